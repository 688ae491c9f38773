import { and, asc, eq, sql } from 'drizzle-orm';
import { ROLLUP_LEVELS, ValidationError, keySchema, metricRollups, metricSummaries, metrics } from '@cairn/schema';
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
  if (total <= 4 * maxPoints) {
    const all = await allPoints(db, runId, key);
    return { runId, key, total, method, points: method === 'lttb' ? lttbPoints(all, maxPoints) : minMaxOf(all, maxPoints) };
  }
  const ends = await endPoints(db, runId, key);
  const span = ends[ends.length - 1]!.step - ends[0]!.step + 1;
  // The coarsest rollup level that still gives every output point a block of its
  // own; levels are 4x apart, so this reads between maxPoints and ~4·maxPoints rows.
  const level = [...ROLLUP_LEVELS].reverse().find((l) => span / l >= maxPoints);
  const blocks = level ? await rollupBlocks(db, runId, key, level) : await sqlBuckets(db, runId, key, ends[0]!.step, span, 2 * maxPoints);
  if (method === 'minmax') {
    return { runId, key, total, method, points: withEnds(extremesOf(mergeBlocks(blocks, Math.floor(maxPoints / 2) - 1)), ends) };
  }
  // MinMaxLTTB: the extremes of each block are the candidates, LTTB picks among them.
  return { runId, key, total, method, points: lttbPoints(withEnds(extremesOf(blocks), ends), maxPoints) };
}

/** A block of consecutive steps with its extreme points (null when it held only NaN). */
interface Block {
  min: SeriesPoint | null;
  max: SeriesPoint | null;
}

function lttbPoints(points: SeriesPoint[], maxPoints: number): SeriesPoint[] {
  return lttb(points, maxPoints, (p) => p.step, (p) => p.value);
}

/** min/max bucketing of raw points, in JS. */
function minMaxOf(points: SeriesPoint[], maxPoints: number): SeriesPoint[] {
  const blocks: Block[] = points.map((p) => (Number.isNaN(p.value) ? { min: null, max: null } : { min: p, max: p }));
  return withEnds(extremesOf(mergeBlocks(blocks, Math.floor(maxPoints / 2) - 1)), [points[0]!, points[points.length - 1]!]);
}

/** Merges consecutive blocks into at most `n` groups, keeping each group's extremes. */
function mergeBlocks(blocks: Block[], n: number): Block[] {
  if (blocks.length <= n) return blocks;
  const out: Block[] = [];
  const per = blocks.length / n;
  for (let g = 0; g < n; g++) {
    const acc: Block = { min: null, max: null };
    for (let i = Math.floor(g * per); i < Math.floor((g + 1) * per); i++) {
      const b = blocks[i]!;
      if (b.min && (!acc.min || b.min.value < acc.min.value)) acc.min = b.min;
      if (b.max && (!acc.max || b.max.value > acc.max.value)) acc.max = b.max;
    }
    out.push(acc);
  }
  return out;
}

function extremesOf(blocks: Block[]): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (const b of blocks) {
    if (b.min && b.max && b.min.step > b.max.step) out.push(b.max, b.min);
    else {
      if (b.min) out.push(b.min);
      if (b.max && b.max !== b.min && b.max.step !== b.min?.step) out.push(b.max);
    }
  }
  return out;
}

/** Adds the first and last points of the series, in step order, without duplicates. */
function withEnds(points: SeriesPoint[], ends: SeriesPoint[]): SeriesPoint[] {
  const first = ends[0]!;
  const last = ends[ends.length - 1]!;
  const inner = points.filter((p) => p.step !== first.step && p.step !== last.step);
  return first.step === last.step ? [first, ...inner] : [first, ...inner, last];
}

async function endPoints(db: Db, runId: string, key: string): Promise<SeriesPoint[]> {
  const found = await rows<{ step: number; value: number; wall_ms: number }>(
    db,
    sql`(SELECT step, value, wall_ms FROM metrics WHERE run_id = ${runId}::uuid AND key = ${key} ORDER BY step ASC LIMIT 1)
        UNION ALL
        (SELECT step, value, wall_ms FROM metrics WHERE run_id = ${runId}::uuid AND key = ${key} ORDER BY step DESC LIMIT 1)`,
  );
  return found.map((e) => ({ step: Number(e.step), value: Number(e.value), wallMs: Number(e.wall_ms) }));
}

async function rollupBlocks(db: Db, runId: string, key: string, level: number): Promise<Block[]> {
  const list = await db
    .select()
    .from(metricRollups)
    .where(and(eq(metricRollups.runId, runId), eq(metricRollups.key, key), eq(metricRollups.level, level)))
    .orderBy(asc(metricRollups.block));
  return list.map((r) => ({
    min: r.min === null ? null : { step: r.minStep!, value: r.min, wallMs: r.minWallMs! },
    max: r.max === null ? null : { step: r.maxStep!, value: r.max, wallMs: r.maxWallMs! },
  }));
}

async function allPoints(db: Db, runId: string, key: string): Promise<SeriesPoint[]> {
  return db
    .select({ step: metrics.step, value: metrics.value, wallMs: metrics.wallMs })
    .from(metrics)
    .where(and(eq(metrics.runId, runId), eq(metrics.key, key)))
    .orderBy(asc(metrics.step));
}

/**
 * For series too short in steps for the rollups (under 64 steps per output point):
 * per step bucket, the points with the smallest and largest value. min()/max()
 * over ARRAY[value, step, wall] pick a whole point in one pass.
 */
async function sqlBuckets(db: Db, runId: string, key: string, firstStep: number, span: number, buckets: number): Promise<Block[]> {
  const found = await rows<{ mn: number[] | null; mx: number[] | null }>(
    db,
    sql`SELECT
          min(ARRAY[value, step::float8, wall_ms::float8]) FILTER (WHERE value <> 'NaN') AS mn,
          max(ARRAY[value, -step::float8, wall_ms::float8]) FILTER (WHERE value <> 'NaN') AS mx
        FROM metrics
        WHERE run_id = ${runId}::uuid AND key = ${key}
        GROUP BY width_bucket(step::float8, ${firstStep}::float8, ${firstStep + span}::float8, ${buckets}::int)
`,
  );
  const blocks = found.map((b) => ({
    min: b.mn ? { value: Number(b.mn[0]), step: Number(b.mn[1]), wallMs: Number(b.mn[2]) } : null,
    max: b.mx ? { value: Number(b.mx[0]), step: -Number(b.mx[1]), wallMs: Number(b.mx[2]) } : null,
  }));
  return blocks.sort((a, b) => blockStep(a) - blockStep(b));
}

function blockStep(b: Block): number {
  return Math.min(b.min?.step ?? Infinity, b.max?.step ?? Infinity);
}
