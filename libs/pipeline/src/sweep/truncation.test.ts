import { describe, expect, it } from 'vitest';
import { ValidationError } from '@cairn/schema';
import { truncationVerdict } from './truncation.ts';

const at = (value: number, step = 300) => ({ step, value });

describe('truncationVerdict', () => {
  const others = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]; // with own: 10 trials, 20% cuts 2

  it('abandons a trial in the worst percent, with a readable reason', () => {
    const v = truncationVerdict({ direction: 'minimize', percent: 20, own: at(0.95), others, metric: 'val_loss' });
    expect(v).toEqual({
      policy: 'truncation',
      reason: 'truncation: best val_loss 0.95 by step 300 ranks 10th of 10 trials at that step, in the worst 20% (8th best is 0.8)',
      details: { value: 0.95, percent: 20, rank: 10, trials: 10, cut: 2, cutoff: 0.8, step: 300 },
    });
    // second worst is still cut
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(0.85), others })?.details.rank).toBe(9);
  });

  it('keeps the best trial outside the cut, down to the edge', () => {
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(0.75), others })).toBeNull();
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(0.05), others })).toBeNull();
  });

  it('does not cut a trial tied with the cutoff', () => {
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(0.8), others })).toBeNull();
    expect(truncationVerdict({ direction: 'minimize', percent: 50, own: at(1), others: [1, 1, 1, 1, 1] })).toBeNull();
    // 0.8 appears twice in the pool; the trial strictly worse than both is cut
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(0.81), others: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.8] })).not.toBeNull();
  });

  it('follows the direction', () => {
    expect(truncationVerdict({ direction: 'maximize', percent: 20, own: at(0.95), others })).toBeNull();
    const v = truncationVerdict({ direction: 'maximize', percent: 20, own: at(0.15), others });
    expect(v?.reason).toBe('truncation: best the objective 0.15 by step 300 ranks 9th of 10 trials at that step, in the worst 20% (8th best is 0.2)');
  });

  it('cuts nobody until there are enough trials for the percentage', () => {
    // 20% of 4 trials is 0.8: nobody
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(100), others: [1, 2, 3] })).toBeNull();
    // 20% of 5 is 1: the worst
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(100), others: [1, 2, 3, 4] })?.details).toMatchObject({ trials: 5, cut: 1, cutoff: 4, rank: 5 });
    expect(truncationVerdict({ direction: 'minimize', percent: 99, own: at(100), others: [] })).toBeNull();
    // 99% of 2: one trial cut, the worse
    expect(truncationVerdict({ direction: 'minimize', percent: 99, own: at(2), others: [1] })?.details.rank).toBe(2);
    expect(truncationVerdict({ direction: 'minimize', percent: 99, own: at(1), others: [2] })).toBeNull();
  });

  it('ignores non-finite peers and abstains without a finite value of its own', () => {
    expect(truncationVerdict({ direction: 'minimize', percent: 20, own: at(Number.NaN), others })).toBeNull();
    const v = truncationVerdict({ direction: 'minimize', percent: 20, own: at(0.95), others: [...others, Number.NaN, Number.POSITIVE_INFINITY] });
    expect(v?.details.trials).toBe(10);
  });

  it('uses ordinal suffixes', () => {
    const many = Array.from({ length: 112 }, (_, i) => i);
    const v = truncationVerdict({ direction: 'minimize', percent: 10, own: at(111.5), others: many });
    expect(v?.reason).toContain('ranks 113th of 113 trials');
    expect(v?.reason).toContain('(102nd best is 101)');
    const w = truncationVerdict({ direction: 'minimize', percent: 50, own: at(200), others: Array.from({ length: 21 }, (_, i) => i) });
    expect(w?.reason).toContain('ranks 22nd of 22 trials');
    expect(w?.reason).toContain('(11th best is 10)');
  });

  it('rejects a percent outside (0, 100) and a bad direction', () => {
    for (const percent of [0, 100, -5, 150, Number.NaN]) {
      expect(() => truncationVerdict({ direction: 'minimize', percent, own: at(1), others })).toThrow(ValidationError);
    }
    expect(() => truncationVerdict({ direction: 'minimize', percent: 0, own: at(1), others })).toThrow(
      'invalid truncation percent: must be a number greater than 0 and less than 100, got 0',
    );
    expect(() => truncationVerdict({ direction: 'up' as never, percent: 10, own: at(1), others })).toThrow(ValidationError);
  });
});
