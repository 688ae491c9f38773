import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDrivers } from './testing.ts';
import type { MetricPoint, Store } from './types.ts';

const value = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, Number.MAX_VALUE, Number.MIN_VALUE),
);
const key = fc.constantFrom('loss', 'acc', 'val/loss', 'lr:group-0', 'ключ', 'a'.repeat(250));

/** Points with arbitrary keys, steps (possibly repeated) and values, cut into batches, some sent twice. */
const scenario = fc.record({
  points: fc.array(fc.record({ key, step: fc.nat({ max: 5000 }), value, wallMs: fc.nat({ max: 2 ** 45 }) }), { maxLength: 300 }),
  cuts: fc.array(fc.nat({ max: 300 }), { maxLength: 5 }),
  resend: fc.array(fc.nat({ max: 5 }), { maxLength: 3 }),
});

describe.each(testDrivers())('metric logging round trips on $name', (driver) => {
  let store: Store;
  let experimentId: string;
  beforeAll(async () => {
    store = await driver.open();
    experimentId = (await store.ensureExperiment({ name: 'property' })).id;
  });
  afterAll(() => driver.cleanup());

  it('stores exactly the first value logged for each (key, step), and summaries agree with the points', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ points, cuts, resend }) => {
        const run = await store.createRun({ experimentId });
        const bounds = [0, ...[...new Set(cuts)].filter((c) => c < points.length).sort((a, b) => a - b), points.length];
        const batches: MetricPoint[][] = [];
        for (let i = 1; i < bounds.length; i++) batches.push(points.slice(bounds[i - 1], bounds[i]));
        for (const [i, batch] of batches.entries()) {
          await store.logMetrics(run.id, batch);
          if (resend.includes(i)) await store.logMetrics(run.id, batch);
        }
        // The model: first write of a (key, step) wins.
        const expected = new Map<string, Map<number, { value: number; wallMs: number }>>();
        for (const batch of batches) {
          for (const p of batch) {
            const m = expected.get(p.key) ?? new Map();
            expected.set(p.key, m);
            if (!m.has(p.step)) m.set(p.step, { value: p.value, wallMs: p.wallMs! });
          }
        }
        const summaries = await store.getMetricSummaries(run.id);
        expect(Object.keys(summaries).sort()).toEqual([...expected.keys()].sort());
        for (const [k, m] of expected) {
          const series = await store.getMetricSeries(run.id, k, { maxPoints: 100_000 });
          const want = [...m.entries()].sort((a, b) => a[0] - b[0]).map(([step, v]) => ({ step, value: v.value, wallMs: v.wallMs }));
          expect(series.points).toEqual(want);
          const finite = want.map((p) => p.value).filter((v) => !Number.isNaN(v));
          const last = want[want.length - 1]!;
          const s = summaries[k]!;
          expect(s.count).toBe(want.length);
          expect(s.lastStep).toBe(last.step);
          expect(Object.is(s.last, last.value) || (Number.isNaN(s.last) && Number.isNaN(last.value))).toBe(true);
          expect(s.min).toBe(finite.length ? Math.min(...finite) : null);
          expect(s.max).toBe(finite.length ? Math.max(...finite) : null);
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 25) },
    );
  });
});
