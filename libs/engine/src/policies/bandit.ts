import type { Policy, PolicyContext, Verdict } from '../types.ts';
import { type ParamsOf, specOf } from './schema.ts';
import { DEFAULT_MIN_EVALUATIONS } from './median.ts';
import { type Direction, type PolicyOptions, bestOf, fmt, isBetter, label, peersAt } from './util.ts';

/**
 * The worst value still within `slack` of `target`: the target moved in the worse
 * direction by the factor (1 + slack) in magnitude. For positive targets this is Azure
 * ML's BanditPolicy slack_factor exactly (maximize: target / (1 + slack); minimize:
 * target * (1 + slack)). For negative targets the same formulas would move the bound to
 * the better side (maximize, -2 / 1.1 = -1.82 > -2: even the best run would fail), so the
 * factor is applied the other way round (maximize: target * (1 + slack); minimize:
 * target / (1 + slack)), keeping "within 10% of the best" meaning the same distance from
 * zero either side. A zero target has no magnitude to scale: null.
 */
export function banditBound(target: number, slack: number, direction: Direction): number | null {
  if (target === 0) return null;
  const f = 1 + slack;
  const worseIsLower = direction === 'maximize';
  const shrink = (target > 0) === worseIsLower; // moving towards zero is the worse way
  return shrink ? target / f : target * f;
}

/**
 * Bandit (Azure ML's BanditPolicy with slack_factor): once this run has minEvaluations
 * (default 3, as for median) evaluations, at the newest evaluation's step s the target is
 * the best of the peers' best-so-far values at s (best of each peer's points with
 * step ≤ s; peers with none yet are left out; one peer is enough, since the best run is
 * what bandit measures against). This run's value is its own best-so-far, like with like
 * (a single noisy evaluation does not end it). Abandon when the value is strictly worse
 * than banditBound(target): out of the slack. With a zero target the ratio cannot give
 * any room, so the policy abstains rather than abandon every run that is not exactly 0
 * (use plateau or median for metrics that reach 0). No peers at s: keep going.
 * Details: { value, target, slack, bound, peers, step }.
 */
export function banditPolicy(params: ParamsOf<'bandit'>, options?: PolicyOptions): Policy {
  const spec = specOf('bandit', params);
  const minEvaluations = spec.minEvaluations ?? DEFAULT_MIN_EVALUATIONS;
  return {
    spec,
    check(ctx: PolicyContext): Verdict | null {
      const { history, direction } = ctx;
      if (history.length < minEvaluations) return null;
      const step = history.at(-1)!.step;
      const own = bestOf(history, direction);
      if (!own) return null;
      const values = peersAt(ctx.peers, step, direction);
      if (values.length === 0) return null;
      const target = values.reduce((a, b) => (isBetter(b, a, direction) ? b : a));
      const bound = banditBound(target, spec.slack, direction);
      if (bound === null || !isBetter(bound, own.value, direction)) return null;
      const pct = `${fmt(spec.slack * 100)}%`;
      return {
        policy: 'bandit',
        reason: `bandit: best ${label(options)} ${fmt(own.value)} by step ${step} is outside the ${pct} slack of the best earlier run's ${fmt(target)} (bound ${fmt(bound)})`,
        details: { value: own.value, target, slack: spec.slack, bound, peers: values.length, step },
      };
    },
  };
}
