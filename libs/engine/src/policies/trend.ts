import type { Evaluation, Policy, PolicyContext, Verdict } from '../types.ts';
import { type ParamsOf, specOf } from './schema.ts';
import { type PolicyOptions, fmt, label } from './util.ts';

/**
 * Least-squares slope of value against step over `points`; null when the steps are all
 * equal (no line to fit) or a value is not finite.
 */
export function slope(points: readonly Pick<Evaluation, 'step' | 'value'>[]): number | null {
  const n = points.length;
  if (n < 2) return null;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    if (!Number.isFinite(p.value) || !Number.isFinite(p.step)) return null;
    sx += p.step;
    sy += p.value;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    const dx = p.step - mx;
    sxy += dx * (p.value - my);
    sxx += dx * dx;
  }
  return sxx === 0 ? null : sxy / sxx;
}

/**
 * Trend: fits a least-squares line to the objective over the last `window` evaluations,
 * with x = step (not the evaluation index, so uneven evaluation spacing does not bend
 * the slope), and abandons when it points the wrong way by more than minSlope (per
 * step, default 0): up for minimize (slope > minSlope), down for maximize
 * (slope < -minSlope). A fit over a window rather than the last two points lets one
 * noisy evaluation pass. Needs at least `window` evaluations; a window holding a
 * non-finite value abstains (the nan policy's call). Details: { slope, window }.
 */
export function trendPolicy(params: ParamsOf<'trend'>, options?: PolicyOptions): Policy {
  const spec = specOf('trend', params);
  const minSlope = spec.minSlope ?? 0;
  return {
    spec,
    check(ctx: PolicyContext): Verdict | null {
      if (ctx.history.length < spec.window) return null;
      const recent = ctx.history.slice(-spec.window);
      const s = slope(recent);
      if (s === null) return null;
      const wrong = ctx.direction === 'minimize' ? s > minSlope : s < -minSlope;
      if (!wrong) return null;
      const way = ctx.direction === 'minimize' ? 'rising' : 'falling';
      const first = recent[0]!.step;
      const last = recent.at(-1)!.step;
      return {
        policy: 'trend',
        reason: `trend: ${label(options)} ${way} over the last ${spec.window} evaluations (slope ${fmt(s)} per step, steps ${first}–${last}), but should be ${ctx.direction}d`,
        details: { slope: s, window: spec.window },
      };
    },
  };
}
