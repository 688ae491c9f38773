import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { MIGRATIONS_DIR } from '@cairn/schema/migrations';
import { rows } from './db.ts';
import { testDrivers } from './testing.ts';
import type { MetricPoint, Run, Store } from './types.ts';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof CairnError ? e.code : String(e);
  }
};

/**
 * getMetricSeriesMany reads many series in a few queries: each result must be the
 * series itself (every point a stored point, in step order, spikes and ends kept),
 * whatever mix of short, bucketed and rolled-up series, odd keys and repeats it gets.
 */
describe.each(testDrivers())('getMetricSeriesMany on $name', (driver) => {
  let store: Store;
  let a: Run;
  let b: Run;
  const raw = new Map<string, Map<number, MetricPoint>>();
  const odd = 'val "loss", \\ at 50%';

  async function log(run: Run, key: string, n: number, value: (i: number) => number, stepOf = (i: number) => i) {
    const points = Array.from({ length: n }, (_, i) => ({ key, step: stepOf(i), value: value(i), wallMs: 1_700_000_000_000 + i * 7 }));
    await store.logMetrics(run.id, points);
    raw.set(`${run.id}/${key}`, new Map(points.map((p) => [p.step, p])));
  }

  beforeAll(async () => {
    store = await driver.open();
    const exp = await store.ensureExperiment({ name: 'series-many' });
    a = await store.createRun({ experimentId: exp.id, name: 'a' });
    b = await store.createRun({ experimentId: exp.id, name: 'b' });
    await log(a, 'short', 50, (i) => i / 10);
    await log(a, 'mid', 700, (i) => Math.sin(i / 20));
    await log(a, 'long', 9_000, (i) => (i === 4_321 ? 99 : Math.cos(i / 300)), (i) => i * 3);
    await log(b, 'long', 9_000, (i) => (i === 10 ? -99 : Number.isInteger(i / 500) ? Number.NaN : Math.sin(i / 100)));
    await log(b, odd, 3_000, (i) => (i % 2 ? Infinity : -0));
    await log(b, 'rolled', 80_000, (i) => (i === 77_777 ? 1e6 : Math.sin(i / 1000)));
    await log(b, 'nan-only', 5, () => Number.NaN);
  }, 120_000);
  afterAll(() => driver.cleanup());

  it('gives each series exactly as reading it alone, in the order asked, repeats included', async () => {
    const asked = [
      { runId: a.id, key: 'long' },
      { runId: b.id, key: 'rolled' },
      { runId: a.id, key: 'short' },
      { runId: b.id, key: odd },
      { runId: b.id, key: 'never-logged' },
      { runId: a.id, key: 'mid' },
      { runId: b.id, key: 'long' },
      { runId: a.id, key: 'short' },
      { runId: b.id, key: 'nan-only' },
    ];
    for (const method of ['lttb', 'minmax'] as const) {
      const many = await store.getMetricSeriesMany(asked, { maxPoints: 200, method });
      expect(many.map((s) => `${s.runId}/${s.key}`)).toEqual(asked.map((r) => `${r.runId}/${r.key}`));
      for (const [n, s] of many.entries()) {
        const alone = await store.getMetricSeries(asked[n]!.runId, asked[n]!.key, { maxPoints: 200, method });
        expect(s, `${s.key} (${method})`).toEqual(alone);
      }
      const byKey = (runId: string, key: string) => many.find((s) => s.runId === runId && s.key === key)!;
      expect(byKey(a.id, 'short')).toMatchObject({ total: 50, method: 'none' });
      expect(byKey(a.id, 'short').points).toHaveLength(50);
      expect(byKey(b.id, 'never-logged')).toMatchObject({ total: 0, method: 'none', points: [] });
      expect(byKey(b.id, 'nan-only').points).toHaveLength(5);
      for (const s of many.filter((x) => x.total > 200)) {
        expect(s.method).toBe(method);
        expect(s.points.length, s.key).toBeLessThanOrEqual(200);
        expect(s.points.length, s.key).toBeGreaterThan(50);
        const stored = raw.get(`${s.runId}/${s.key}`)!;
        const steps = s.points.map((p) => p.step);
        expect([...steps].sort((x, y) => x - y)).toEqual(steps);
        expect(steps[0]).toBe(Math.min(...stored.keys()));
        expect(steps.at(-1)).toBe(Math.max(...stored.keys()));
        for (const p of s.points) {
          const r = stored.get(p.step);
          expect(r, `${s.key} step ${p.step}`).toBeDefined();
          expect(Object.is(p.value, r!.value) || (Number.isNaN(p.value) && Number.isNaN(r!.value)), `${s.key} step ${p.step}`).toBe(true);
          expect(p.wallMs).toBe(r!.wallMs);
        }
      }
      // The spikes survive downsampling, in bucketed (a/long, b/long) and rolled-up (b/rolled) series.
      expect(byKey(a.id, 'long').points.some((p) => p.value === 99 && p.step === 4_321 * 3)).toBe(true);
      expect(byKey(b.id, 'long').points.some((p) => p.value === -99)).toBe(true);
      expect(byKey(b.id, 'rolled').points.some((p) => p.value === 1e6)).toBe(true);
      // -0 and Infinity come back as stored.
      const oddPoints = byKey(b.id, odd).points;
      expect(oddPoints.some((p) => Object.is(p.value, -0))).toBe(true);
      expect(oddPoints.some((p) => p.value === Infinity)).toBe(true);
    }
  });

  it('refuses an unknown run, a bad key or too many series, and reads nothing for none', async () => {
    expect(await store.getMetricSeriesMany([])).toEqual([]);
    const ghost = '01890000-0000-7000-8000-000000000000';
    expect(await code(store.getMetricSeriesMany([{ runId: a.id, key: 'short' }, { runId: ghost, key: 'loss' }]))).toBe('NOT_FOUND');
    expect(await code(store.getMetricSeriesMany([{ runId: 'not-a-uuid', key: 'loss' }]))).toBe('INVALID_INPUT');
    expect(await code(store.getMetricSeriesMany([{ runId: a.id, key: '' }]))).toBe('INVALID_INPUT');
    const many = Array.from({ length: 1_001 }, (_, i) => ({ runId: a.id, key: `k${i}` }));
    expect(await code(store.getMetricSeriesMany(many))).toBe('INVALID_INPUT');
    expect(await code(store.getMetricSeriesMany([{ runId: a.id, key: 'short' }], { maxPoints: 3 }))).toBe('INVALID_INPUT');
  });

  it('migration 0004 fills in the 16-step rollups exactly as ingest writes them', async () => {
    const db = store.drizzle();
    const level16 = () => rows<Record<string, unknown>>(db, sql`SELECT * FROM metric_rollups WHERE level = 16 ORDER BY run_id, key, block`);
    const written = await level16();
    expect(written.length).toBeGreaterThan(5_000);
    await db.execute(sql`DELETE FROM metric_rollups WHERE level = 16`);
    expect(await level16()).toHaveLength(0);
    await db.execute(sql.raw(fs.readFileSync(path.join(MIGRATIONS_DIR, '0004_rollups_level_16.sql'), 'utf8')));
    expect(await level16()).toEqual(written);
  });
});
