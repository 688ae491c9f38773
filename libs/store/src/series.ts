import { and, asc, eq, sql } from 'drizzle-orm';
import { ValidationError, keySchema, metricSummaries, metrics } from '@cairn/schema';
import { rows, type Db } from './engine.ts';
import { lttb } from './lttb.ts';
import { getRunRow } from './runs.ts';
import { validate, validateId } from './validate.ts';
import type { MetricSeries, SeriesPoint } from './types.ts';

export const DEFAULT_SERIES_POINTS = 2_000;
const MAX_SERIES_POINTS = 100_000;

export async function getMetricSeries(
  db: Db,
  runId: string,
  key: string,
  options: { maxPoints?: number; method?: 'lttb' | 'minmax' } = {},
): Promise<MetricSeries> {
  validateId(runId);
  validate(keySchema, key, 'metric key');
  const maxPoints = options.maxPoints ?? DEFAULT_SERIES_POINTS;
  if (!Number.isInteger(maxPoints) || maxPoints < 4 || maxPoints > MAX_SERIES_POINTS) {
    throw new ValidationError(`maxPoints must be an integer from 4 to ${MAX_SERIES_POINTS}`);
  }
  const method = options.method ?? 'lttb';
  if (method !== 'lttb' && method !== 'minmax') throw new ValidationError(`unknown downsampling method '${String(method)}' (lttb or minmax)`);

  const [summary] = await db
    .select({ count: metricSummaries.count, lastStep: metricSummaries.lastStep })
    .from(metricSummaries)
    .where(and(eq(metricSummaries.runId, runId), eq(metricSummaries.key, key)));
  if (!summary) {
    await getRunRow(db, runId);
    return { runId, key, total: 0, method: 'none', points: [] };
  }
  const total = summary.count;
  if (total <= maxPoints) {
    const points = await db
      .select({ step: metrics.step, value: metrics.value, wallMs: metrics.wallMs })
      .from(metrics)
      .where(and(eq(metrics.runId, runId), eq(metrics.key, key)))
      .orderBy(asc(metrics.step));
    return { runId, key, total, method: 'none', points };
  }
  if (method === 'minmax') {
    return { runId, key, total, method, points: await minMaxBuckets(db, runId, key, summary.lastStep, Math.floor(maxPoints / 2)) };
  }
  // MinMaxLTTB: the database reduces the series to the extremes of 2·maxPoints
  // buckets (so no million-row transfer), and LTTB picks maxPoints among them.
  const candidates = total <= 4 * maxPoints ? await allPoints(db, runId, key) : await minMaxBuckets(db, runId, key, summary.lastStep, 2 * maxPoints);
  return { runId, key, total, method, points: lttb(candidates, maxPoints, (p) => p.step, (p) => p.value) };
}

async function allPoints(db: Db, runId: string, key: string): Promise<SeriesPoint[]> {
  return db
    .select({ step: metrics.step, value: metrics.value, wallMs: metrics.wallMs })
    .from(metrics)
    .where(and(eq(metrics.runId, runId), eq(metrics.key, key)))
    .orderBy(asc(metrics.step));
}

/**
 * Per step bucket: the point with the smallest and the one with the largest value
 * (a NaN-only bucket keeps its first point), plus the series' first and last point.
 * min()/max() over ARRAY[value, step, wall] pick the whole point in one pass.
 */
async function minMaxBuckets(db: Db, runId: string, key: string, lastStep: number, buckets: number): Promise<SeriesPoint[]> {
  const found = await rows<{ mn: number[] | null; mx: number[] | null; first: number[] }>(
    db,
    // The lower bound is a scalar subquery (an InitPlan, computed once); as a joined
    // CTE a fresh, unanalysed table got a nested loop that recomputed it per row.
    sql`SELECT
          min(ARRAY[value, step::float8, wall_ms::float8]) FILTER (WHERE value <> 'NaN') AS mn,
          max(ARRAY[value, step::float8, wall_ms::float8]) FILTER (WHERE value <> 'NaN') AS mx,
          min(ARRAY[step::float8, value, wall_ms::float8]) AS first
        FROM metrics
        WHERE run_id = ${runId}::uuid AND key = ${key}
        GROUP BY width_bucket(step::float8,
          (SELECT min(step) FROM metrics WHERE run_id = ${runId}::uuid AND key = ${key})::float8,
          ${lastStep + 1}::float8, ${buckets}::int)`,
  );
  const bySteps = new Map<number, SeriesPoint>();
  const add = (p: SeriesPoint) => bySteps.set(p.step, p);
  for (const b of found) {
    if (b.mn) add({ value: Number(b.mn[0]), step: Number(b.mn[1]), wallMs: Number(b.mn[2]) });
    if (b.mx) add({ value: Number(b.mx[0]), step: Number(b.mx[1]), wallMs: Number(b.mx[2]) });
    if (!b.mn && b.first) add({ step: Number(b.first[0]), value: Number(b.first[1]), wallMs: Number(b.first[2]) });
  }
  const ends = await rows<{ step: number; value: number; wall_ms: number }>(
    db,
    sql`(SELECT step, value, wall_ms FROM metrics WHERE run_id = ${runId}::uuid AND key = ${key} ORDER BY step ASC LIMIT 1)
        UNION ALL
        (SELECT step, value, wall_ms FROM metrics WHERE run_id = ${runId}::uuid AND key = ${key} ORDER BY step DESC LIMIT 1)`,
  );
  for (const e of ends) add({ step: Number(e.step), value: Number(e.value), wallMs: Number(e.wall_ms) });
  return [...bySteps.values()].sort((a, b) => a.step - b.step);
}
