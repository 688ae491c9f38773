import type { Policy, PolicyContext, Verdict } from '../types.ts';
import { type ParamsOf, specOf } from './schema.ts';
import { type PolicyOptions, fmtMs } from './util.ts';

/**
 * Wall-clock budget: abandons once ctx.elapsedMs is strictly over `ms`. It reads the
 * context's clock rather than the newest evaluation's, so the trainer can check it
 * between evaluations too (a long epoch would otherwise overrun by a whole epoch).
 * Exactly at the budget keeps going: the budget is what the run may use.
 */
export function timeBudgetPolicy(params: ParamsOf<'time-budget'>, _options?: PolicyOptions): Policy {
  const spec = specOf('time-budget', params);
  return {
    spec,
    check(ctx: PolicyContext): Verdict | null {
      if (!(ctx.elapsedMs > spec.ms)) return null;
      return {
        policy: 'time-budget',
        reason: `time-budget: ${fmtMs(ctx.elapsedMs)} elapsed, over the ${fmtMs(spec.ms)} budget`,
        details: { elapsedMs: ctx.elapsedMs, budgetMs: spec.ms },
      };
    },
  };
}
