import { describe, expect, it } from 'vitest';
import type { Prediction, ValidatedInput } from '@cairn/engine';
import { Batcher } from './batcher.ts';

/** A fake request of `rows` rows whose values are `id` (so the fake model can echo who is who). */
const input = (id: number, rows: number): ValidatedInput => ({ values: new Float32Array(rows).fill(id), shape: [rows, 1], rows });

/** A fake model: each row's prediction is its value; records the batches it was called with. */
function fakeModel(fail?: (ids: number[]) => boolean) {
  const calls: number[][] = [];
  const run = async (inputs: readonly ValidatedInput[]): Promise<Prediction[][]> => {
    const ids = inputs.map((i) => i.values[0]!);
    calls.push(ids);
    await new Promise((r) => setTimeout(r, 5));
    if (fail?.(ids)) throw new Error(`model failed on ${ids.join(',')}`);
    return inputs.map((i) => Array.from(i.values, (v) => ({ value: v })));
  };
  return { calls, run };
}

describe('Batcher', () => {
  it('runs once maxRows rows wait, in whole requests, and answers each with its own rows', async () => {
    const m = fakeModel();
    const b = new Batcher({ maxRows: 5, maxDelayMs: 60_000, run: m.run });
    const t0 = Date.now();
    const out = await Promise.all([b.submit(input(1, 2)), b.submit(input(2, 2)), b.submit(input(3, 1)), b.submit(input(4, 3)), b.submit(input(5, 2))]);
    // 2+2+1 = 5 rows: the first batch; 3+2 = 5: the second. Neither waited for the 60 s delay.
    expect(m.calls).toEqual([[1, 2, 3], [4, 5]]);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(out.map((p) => p.map((x) => (x as { value: number }).value))).toEqual([[1, 1], [2, 2], [3], [4, 4, 4], [5, 5]]);
  });

  it('runs what waits once maxDelayMs has passed, and a request over maxRows alone', async () => {
    const m = fakeModel();
    const b = new Batcher({ maxRows: 4, maxDelayMs: 30, run: m.run });
    const t0 = Date.now();
    const small = await Promise.all([b.submit(input(1, 1)), b.submit(input(2, 1))]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(m.calls).toEqual([[1, 2]]);
    expect(small.map((p) => p.length)).toEqual([1, 1]);
    const big = await b.submit(input(3, 10));
    expect(big).toHaveLength(10);
    expect(m.calls).toEqual([[1, 2], [3]]);
  });

  it('a failed model call fails the requests in it and only those', async () => {
    const m = fakeModel((ids) => ids.includes(2));
    const b = new Batcher({ maxRows: 2, maxDelayMs: 60_000, run: m.run });
    const results = await Promise.allSettled([b.submit(input(1, 1)), b.submit(input(2, 1)), b.submit(input(3, 1)), b.submit(input(4, 1))]);
    expect(m.calls).toEqual([[1, 2], [3, 4]]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('model failed on 1,2');
    expect(b.pending).toBe(0);
  });
});
