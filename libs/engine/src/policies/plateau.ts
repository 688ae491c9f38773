import type { Policy, PolicyContext, Verdict } from '../types.ts';
import { type ParamsOf, specOf } from './schema.ts';
import { type PolicyOptions, fmt, isBetter, label, plural } from './util.ts';

/**
 * Plateau (Keras EarlyStopping's rule): an evaluation improves when it beats the best so
 * far by more than minDelta (default 0) in the objective's direction; the best moves
 * only on an improvement, so a slow creep of sub-minDelta gains does not reset the count.
 * After `patience` consecutive evaluations without improvement, abandon.
 *
 * The first finite value sets the best. Non-finite values never improve (they count
 * towards patience); with no finite value at all the policy abstains, as that is the nan
 * policy's call. Details: { patience, best, bestStep, current } (current may be NaN).
 */
export function plateauPolicy(params: ParamsOf<'plateau'>, options?: PolicyOptions): Policy {
  const spec = specOf('plateau', params);
  const minDelta = spec.minDelta ?? 0;
  return {
    spec,
    check(ctx: PolicyContext): Verdict | null {
      const { history, direction } = ctx;
      let bestIdx = -1;
      let best = Number.NaN;
      for (let i = 0; i < history.length; i++) {
        const v = history[i]!.value;
        if (!Number.isFinite(v)) continue;
        const target = direction === 'minimize' ? best - minDelta : best + minDelta;
        if (bestIdx < 0 || isBetter(v, target, direction)) {
          bestIdx = i;
          best = v;
        }
      }
      if (bestIdx < 0) return null;
      const since = history.length - 1 - bestIdx;
      if (since < spec.patience) return null;
      const bestStep = history[bestIdx]!.step;
      const current = history.at(-1)!.value;
      const by = minDelta > 0 ? ` by more than ${fmt(minDelta)}` : '';
      return {
        policy: 'plateau',
        reason: `plateau: no improvement${by} on ${label(options)} for ${plural(since, 'evaluation')} (best ${fmt(best)} at step ${bestStep}, now ${fmt(current)})`,
        details: { patience: spec.patience, best, bestStep, current },
      };
    },
  };
}
