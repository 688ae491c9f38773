import type { Policy, PolicyContext, Verdict } from '../types.ts';
import { specOf } from './schema.ts';
import { type PolicyOptions, fmt } from './util.ts';

/**
 * The names of the non-finite (NaN, Infinity, -Infinity) values in `metrics`, in key
 * order, or null when all are finite (null rather than [] so `if (nonFinite(m))` reads
 * right). Cheap enough for the trainer to call on every batch's loss: once a loss is NaN
 * the weights are NaN too, and every further step is wasted.
 */
export function nonFinite(metrics: Readonly<Record<string, number>>): string[] | null {
  let bad: string[] | null = null;
  for (const key in metrics) {
    if (!Number.isFinite(metrics[key])) (bad ??= []).push(key);
  }
  return bad;
}

/**
 * The verdict for non-finite values, for the trainer's per-batch check and the policy
 * alike: "nan: loss is NaN at step 1200 (epoch 3)".
 */
export function nanVerdict(names: readonly string[], values: Readonly<Record<string, number>>, at: { step: number; epoch?: number }): Verdict {
  const what = names.map((n) => `${n} is ${fmt(values[n] ?? Number.NaN)}`).join(', ');
  const where = `step ${at.step}${at.epoch === undefined ? '' : ` (epoch ${at.epoch})`}`;
  const details: Record<string, number> = { step: at.step, count: names.length };
  if (at.epoch !== undefined) details.epoch = at.epoch;
  return { policy: 'nan', reason: `nan: ${what} at ${where}`, details };
}

/**
 * NaN/Inf guard. Looks at the newest evaluation only: the policies are checked after each
 * evaluation, and a value that went NaN never comes back (NaN weights stay NaN), so
 * there is nothing to wait for. Both the objective value and every reported metric
 * count: a NaN train loss dooms the run even while the validation metric still looks
 * finite for one more evaluation. Details hold only finite numbers ({ step, epoch,
 * count }) so they survive JSON; the reason carries the NaN/Infinity.
 */
export function nanPolicy(options?: PolicyOptions): Policy {
  const spec = specOf('nan', {});
  return {
    spec,
    check(ctx: PolicyContext): Verdict | null {
      const e = ctx.history.at(-1);
      if (!e) return null;
      const bad = nonFinite(e.metrics) ?? [];
      const values: Record<string, number> = { ...e.metrics };
      if (!Number.isFinite(e.value)) {
        // The objective is usually one of the metrics too; name it once.
        const name = options?.metric ?? 'the objective';
        if (!(name in e.metrics) || Number.isFinite(e.metrics[name])) {
          const key = name in e.metrics ? `${name} (objective)` : name;
          bad.unshift(key);
          values[key] = e.value;
        }
      }
      if (bad.length === 0) return null;
      return nanVerdict(bad, values, e);
    },
  };
}
