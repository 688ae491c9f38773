import { ValidationError } from '@cairn/schema';
import { type Direction, isBetter, show } from './common.ts';

export interface TruncationInput {
  direction: Direction;
  /** The share of trials to cut at each evaluation, in percent: more than 0, less than 100. */
  percent: number;
  /** This trial at the evaluation step: its best objective so far by that step. */
  own: { step: number; value: number };
  /**
   * The other trials that reached the step (this one excluded): each one's best objective
   * so far by the step. Non-finite values are ignored.
   */
  others: readonly number[];
  /** The objective's metric name, for the reason. */
  metric?: string;
}

export interface TruncationVerdict {
  policy: 'truncation';
  /** One line, e.g. "truncation: best val_loss 0.61 by step 300 ranks 9th of 10 trials at that step, in the worst 20% (8th best is 0.48)". */
  reason: string;
  details: { value: number; percent: number; rank: number; trials: number; cut: number; cutoff: number; step: number };
}

function fmt(n: number): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(4)));
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/**
 * Truncation selection (Azure ML's TruncationSelectionPolicy): at an evaluation step, the
 * trials that reached it (this one and `others`, finite values only, n of them) are
 * ranked by their best-so-far objective, and the worst `cut` = floor(n · percent / 100)
 * are abandoned. This trial is abandoned when it is among them even with ties resolved
 * in its favour: when at least n − cut trials are strictly better than it, i.e. it is
 * strictly worse than the (n − cut)th best value (the cutoff). So equal values never
 * split (all trials equal: nobody is cut), and nothing is cut until n ≥ 100 / percent
 * (20%: five trials). A trial with no finite value yet abstains (the nan policy acts on
 * those). Which steps count as evaluations (interval, delay) is the caller's choice.
 *
 * Returns null to keep going, or the verdict with { value, percent, rank (1 + trials
 * strictly better), trials: n, cut, cutoff, step }.
 */
export function truncationVerdict(input: TruncationInput): TruncationVerdict | null {
  const { direction, percent, own, others } = input;
  if (typeof percent !== 'number' || !(percent > 0 && percent < 100)) {
    throw new ValidationError(`invalid truncation percent: must be a number greater than 0 and less than 100, got ${show(percent)}`);
  }
  if (direction !== 'minimize' && direction !== 'maximize') {
    throw new ValidationError(`invalid direction: must be 'minimize' or 'maximize', got ${show(direction)}`);
  }
  if (!Number.isFinite(own.value)) return null;
  const values = others.filter((v) => Number.isFinite(v));
  values.push(own.value);
  const n = values.length;
  const cut = Math.floor((n * percent) / 100);
  if (cut === 0) return null;
  values.sort((a, b) => (direction === 'minimize' ? a - b : b - a));
  const cutoff = values[n - cut - 1]!;
  if (!isBetter(cutoff, own.value, direction)) return null;
  let better = 0;
  for (const v of values) if (isBetter(v, own.value, direction)) better++;
  const rank = better + 1;
  const name = input.metric ?? 'the objective';
  return {
    policy: 'truncation',
    reason: `truncation: best ${name} ${fmt(own.value)} by step ${own.step} ranks ${ordinal(rank)} of ${n} trials at that step, in the worst ${fmt(percent)}% (${ordinal(n - cut)} best is ${fmt(cutoff)})`,
    details: { value: own.value, percent, rank, trials: n, cut, cutoff, step: own.step },
  };
}
