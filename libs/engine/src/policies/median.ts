import type { Policy, PolicyContext, Verdict } from '../types.ts';
import { type ParamsOf, specOf } from './schema.ts';
import { type PolicyOptions, bestOf, fmt, isBetter, label, peersAt } from './util.ts';

/**
 * Peers needed (with a point at or before the step) before the median means anything.
 * With one peer the "median" is that run, so the rule would abandon everything worse
 * than a single earlier run (an over-eager bandit with zero slack); with two it is their
 * mean. Three is the smallest count with a real middle, and what Ray Tune's
 * MedianStoppingRule requires by default (min_samples_required=3).
 */
export const MEDIAN_MIN_PEERS = 3;
export const DEFAULT_MIN_EVALUATIONS = 3;

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Median stopping (Google Vizier's rule, as Ray Tune and Optuna run it): once this run
 * has minEvaluations (default 3) evaluations, take the newest evaluation's step s; this
 * run's value is its best-so-far objective; each peer's value at s is the best of its
 * points with step ≤ s (peers evaluated at other steps still count, peers with no point
 * yet by s are left out, non-finite points are ignored). Abandon when this run is
 * strictly worse than the median of those peer values. Best-so-far on both sides
 * compares like with like and lets a noisy run survive one bad evaluation. Fewer than
 * MEDIAN_MIN_PEERS peers at s: keep going. Details: { value, median, peers, step }.
 */
export function medianPolicy(params?: ParamsOf<'median'>, options?: PolicyOptions): Policy {
  const spec = specOf('median', params ?? {});
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
      if (values.length < MEDIAN_MIN_PEERS) return null;
      const m = median(values);
      if (!isBetter(m, own.value, direction)) return null;
      return {
        policy: 'median',
        reason: `median: best ${label(options)} ${fmt(own.value)} by step ${step} is worse than the median ${fmt(m)} of ${values.length} earlier runs at that step`,
        details: { value: own.value, median: m, peers: values.length, step },
      };
    },
  };
}
