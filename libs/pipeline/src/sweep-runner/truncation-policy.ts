import type { Policy, PolicyContext, TruncationSpec, Verdict } from '@cairn/engine';
import { truncationVerdict } from '../sweep/index.ts';

/**
 * Truncation selection as an engine policy: once this trial has `minEvaluations`
 * (default 3) evaluations, at each evaluation's step it is ranked by its best-so-far
 * objective among the peers that reached that step (their best at or before it), and
 * abandoned when it is in the worst `percent` (see truncationVerdict).
 */
export function truncationPolicy(spec: TruncationSpec, metric?: string): Policy {
  const minEvaluations = spec.minEvaluations ?? 3;
  return {
    spec,
    check(ctx: PolicyContext): Verdict | null {
      const { history, direction } = ctx;
      if (history.length < minEvaluations) return null;
      const step = history.at(-1)!.step;
      let own = Number.NaN;
      for (const e of history) if (Number.isFinite(e.value) && (!Number.isFinite(own) || (direction === 'minimize' ? e.value < own : e.value > own))) own = e.value;
      const others: number[] = [];
      for (const peer of ctx.peers) {
        let reached = false;
        let best = Number.NaN;
        for (const p of peer.points) {
          if (p.step >= step) reached = true;
          if (p.step > step || !Number.isFinite(p.value)) continue;
          if (!Number.isFinite(best) || (direction === 'minimize' ? p.value < best : p.value > best)) best = p.value;
        }
        if (reached && Number.isFinite(best)) others.push(best);
      }
      const v = truncationVerdict({ direction, percent: spec.percent, own: { step, value: own }, others, ...(metric ? { metric } : {}) });
      return v ? { policy: v.policy, reason: v.reason, details: v.details } : null;
    },
  };
}
