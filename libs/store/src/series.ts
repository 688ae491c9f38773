import { sql, type SQL } from 'drizzle-orm';
import { NotFoundError, ROLLUP_LEVELS, ValidationError, keySchema } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { lttb } from './lttb.ts';
import { validate, validateId } from './validate.ts';
import type { MetricSeries, SeriesOptions, SeriesRequest, SeriesPoint } from './types.ts';

export const DEFAULT_SERIES_POINTS = 2_000;
const MAX_SERIES_POINTS = 100_000;
/** Series one getMetricSeriesMany call reads at most. */
export const MAX_SERIES_PER_READ = 1_000;

export async function getMetricSeries(db: Db, runId: string, key: string, options: SeriesOptions = {}): Promise<MetricSeries> {
  return (await getMetricSeriesMany(db, [{ runId, key }], options))[0]!;
}

/** A series being read: its place in the batch (`i`, 1-based as WITH ORDINALITY counts) and what is known of it. */
interface Pending {
  i: number;
  runId: string;
  key: string;
  total: number;
}

/**
 * Many series in a few queries, whatever their number: their summaries in one, the
 * short ones' points in one (one text row per series: parsing one string is several
 * times cheaper than a row per point through the drivers), the long ones' end points in
 * one, and their blocks in one from the rollups (or, for series too short in steps for
 * them, one grouping the points into buckets). Each result is exactly what reading that
 * series alone gives.
 */
export async function getMetricSeriesMany(db: Db, requests: readonly SeriesRequest[], options: SeriesOptions = {}): Promise<MetricSeries[]> {
  const maxPoints = options.maxPoints ?? DEFAULT_SERIES_POINTS;
  if (!Number.isInteger(maxPoints) || maxPoints < 4 || maxPoints > MAX_SERIES_POINTS) {
    throw new ValidationError(`maxPoints must be an integer from 4 to ${MAX_SERIES_POINTS}`);
  }
  const method = options.method ?? 'lttb';
  if (method !== 'lttb' && method !== 'minmax') throw new ValidationError(`unknown downsampling method '${String(method)}' (lttb or minmax)`);
  const wanted = requests.map((r) => ({ runId: validateId(r.runId), key: validate(keySchema, r.key, 'metric key') }));
  const unique = [...new Map(wanted.map((r) => [pairId(r.runId, r.key), r])).values()];
  if (unique.length > MAX_SERIES_PER_READ) throw new ValidationError(`at most ${MAX_SERIES_PER_READ} series at once (asked for ${unique.length})`);
  if (unique.length === 0) return [];

  const counts = await rows<{ i: number | string; count: number | string }>(
    db,
    sql`SELECT r.i, s.count FROM ${pairsOf(unique)} JOIN metric_summaries s ON s.run_id = r.run_id AND s.key = r.key`,
  );
  const totalOf = new Map(counts.map((c) => [Number(c.i), Number(c.count)]));
  const pending: Pending[] = unique.map((r, n) => ({ ...r, i: n + 1, total: totalOf.get(n + 1) ?? 0 }));
  await assertRunsExist(db, pending.filter((p) => p.total === 0).map((p) => p.runId));

  const done = new Map<string, MetricSeries>();
  const finish = (p: Pending, m: MetricSeries['method'], points: SeriesPoint[]) => done.set(pairId(p.runId, p.key), { runId: p.runId, key: p.key, total: p.total, method: m, points });
  for (const p of pending) if (p.total === 0) finish(p, 'none', []);

  // Up to 4x maxPoints: every point, downsampled here when there are too many.
  const short = pending.filter((p) => p.total > 0 && p.total <= 4 * maxPoints);
  const long = pending.filter((p) => p.total > 4 * maxPoints);
  const [shortPoints, ends] = await Promise.all([pointsOf(db, short), endPointsOf(db, long)]);
  for (const p of short) {
    const all = shortPoints.get(p.i) ?? [];
    if (p.total <= maxPoints) finish(p, 'none', all);
    else finish(p, method, method === 'lttb' ? lttbPoints(all, maxPoints) : minMaxOf(all, maxPoints));
  }

  // Longer: block extremes (from the rollups when the series spans enough steps for them,
  // else per step bucket in SQL), then min-max or MinMaxLTTB over them.
  const rolled: (Pending & { level: number })[] = [];
  const bucketed: (Pending & { first: number; span: number })[] = [];
  for (const p of long) {
    const e = ends.get(p.i);
    // Summarised but without points: its run was deleted between the two reads.
    if (!e) {
      finish(p, 'none', []);
      continue;
    }
    const span = e[e.length - 1]!.step - e[0]!.step + 1;
    // The coarsest rollup level that still gives every output point a block of its
    // own; levels are 4x apart, so this reads between maxPoints and ~4·maxPoints rows.
    const level = [...ROLLUP_LEVELS].reverse().find((l) => span / l >= maxPoints);
    if (level) rolled.push({ ...p, level });
    else bucketed.push({ ...p, first: e[0]!.step, span });
  }
  const [fromRollups, fromBuckets] = await Promise.all([rollupBlocksOf(db, rolled), bucketsOf(db, bucketed, 2 * maxPoints)]);
  const blocksOf = new Map([...fromRollups, ...fromBuckets]);
  for (const p of long) {
    const e = ends.get(p.i);
    if (!e) continue;
    const blocks = blocksOf.get(p.i) ?? [];
    if (method === 'minmax') finish(p, method, withEnds(extremesOf(mergeBlocks(blocks, Math.floor(maxPoints / 2) - 1)), e));
    // MinMaxLTTB: the extremes of each block are the candidates, LTTB picks among them.
    else finish(p, method, lttbPoints(withEnds(extremesOf(blocks), e), maxPoints));
  }
  return wanted.map((r) => done.get(pairId(r.runId, r.key))!);
}

function pairId(runId: string, key: string): string {
  return `${runId}\u0000${key}`;
}

/** A PostgreSQL array literal of text, bound as one parameter (never spliced into SQL). */
function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

/**
 * `r(run_id, key, i)`: a list of series as a relation, numbered from 1 in its order
 * (so a row's `i` is its place in that list, not in the whole batch).
 */
function pairsOf(list: readonly { runId: string; key: string }[]): SQL {
  return sql`unnest(${textArray(list.map((p) => p.runId))}::uuid[], ${textArray(list.map((p) => p.key))}::text[]) WITH ORDINALITY AS r(run_id, key, i)`;
}

/** Throws NOT_FOUND for the first of `runIds` that is no run (a missing series of a real run is just empty). */
async function assertRunsExist(db: Db, runIds: string[]): Promise<void> {
  const ids = [...new Set(runIds)];
  if (!ids.length) return;
  const found = await rows<{ id: string }>(db, sql`SELECT id FROM runs WHERE id = ANY(${textArray(ids)}::uuid[])`);
  const known = new Set(found.map((f) => f.id));
  const missing = ids.find((id) => !known.has(id));
  if (missing) throw new NotFoundError('run', missing);
}

/** Every point of each series, in step order: one row per series holding "step value wall" triples. */
async function pointsOf(db: Db, list: Pending[]): Promise<Map<number, SeriesPoint[]>> {
  const out = new Map<number, SeriesPoint[]>();
  if (!list.length) return out;
  const found = await rows<{ i: number | string; pts: string }>(
    db,
    sql`SELECT r.i, string_agg(m.step || ' ' || m.value || ' ' || m.wall_ms, ',' ORDER BY m.step) AS pts
        FROM ${pairsOf(list)} JOIN metrics m ON m.run_id = r.run_id AND m.key = r.key
        GROUP BY r.i`,
  );
  for (const f of found) {
    const points: SeriesPoint[] = [];
    for (const t of f.pts.split(',')) {
      const [step, value, wall] = t.split(' ');
      points.push({ step: Number(step), value: Number(value), wallMs: Number(wall) });
    }
    out.set(list[Number(f.i) - 1]!.i, points);
  }
  return out;
}

/** The first and last point of each series (one point when they are the same). */
async function endPointsOf(db: Db, list: Pending[]): Promise<Map<number, SeriesPoint[]>> {
  const out = new Map<number, SeriesPoint[]>();
  if (!list.length) return out;
  type End = { i: number | string; fs: number | string; fv: number | string; fw: number | string; ls: number | string; lv: number | string; lw: number | string };
  const found = await rows<End>(
    db,
    sql`SELECT r.i, f.step AS fs, f.value AS fv, f.wall_ms AS fw, l.step AS ls, l.value AS lv, l.wall_ms AS lw
        FROM ${pairsOf(list)}
        CROSS JOIN LATERAL (SELECT step, value, wall_ms FROM metrics m WHERE m.run_id = r.run_id AND m.key = r.key ORDER BY step ASC LIMIT 1) f
        CROSS JOIN LATERAL (SELECT step, value, wall_ms FROM metrics m WHERE m.run_id = r.run_id AND m.key = r.key ORDER BY step DESC LIMIT 1) l`,
  );
  for (const e of found) {
    const first = { step: Number(e.fs), value: Number(e.fv), wallMs: Number(e.fw) };
    const last = { step: Number(e.ls), value: Number(e.lv), wallMs: Number(e.lw) };
    out.set(list[Number(e.i) - 1]!.i, first.step === last.step ? [first] : [first, last]);
  }
  return out;
}

/**
 * Each series' blocks as one text row, "min;max|min;max|…" in step order, where an
 * extreme is "value,step,wall" or empty for a block holding only NaN.
 */
function blocksFrom<T extends Pending>(list: T[], found: { i: number | string; blocks: string }[]): Map<number, Block[]> {
  const out = new Map<number, Block[]>();
  for (const f of found) {
    const blocks = f.blocks.split('|').map((b) => {
      const [mn, mx] = b.split(';');
      return { min: extreme(mn!), max: extreme(mx!) };
    });
    out.set(list[Number(f.i) - 1]!.i, blocks);
  }
  return out;
}

function extreme(text: string): SeriesPoint | null {
  if (!text) return null;
  const [value, step, wall] = text.split(',');
  return { value: Number(value), step: Number(step), wallMs: Number(wall) };
}

/** The stored blocks of each series at its level (metric_rollups), in one query. */
async function rollupBlocksOf(db: Db, list: (Pending & { level: number })[]): Promise<Map<number, Block[]>> {
  if (!list.length) return new Map();
  const found = await rows<{ i: number | string; blocks: string }>(
    db,
    sql`SELECT r.i, string_agg(
          coalesce(b.min::text || ',' || b.min_step || ',' || b.min_wall_ms, '') || ';' || coalesce(b.max::text || ',' || b.max_step || ',' || b.max_wall_ms, ''),
          '|' ORDER BY b.block) AS blocks
        FROM unnest(${textArray(list.map((p) => p.runId))}::uuid[], ${textArray(list.map((p) => p.key))}::text[], ${`{${list.map((p) => p.level).join(',')}}`}::int[])
          WITH ORDINALITY AS r(run_id, key, level, i)
        JOIN metric_rollups b ON b.run_id = r.run_id AND b.key = r.key AND b.level = r.level
        GROUP BY r.i`,
  );
  return blocksFrom(list, found);
}

/**
 * For series too short in steps for the rollups (under 16 steps per output point):
 * per step bucket, the points with the smallest and largest value, for every series
 * in one query. min()/max() over ARRAY[value, step, wall] pick a whole point in one
 * pass (the step negated for max, so ties go to the earlier step as in the rollups).
 */
async function bucketsOf(db: Db, list: (Pending & { first: number; span: number })[], buckets: number): Promise<Map<number, Block[]>> {
  if (!list.length) return new Map();
  const firsts = `{${list.map((p) => p.first).join(',')}}`;
  const spans = `{${list.map((p) => p.span).join(',')}}`;
  const found = await rows<{ i: number | string; blocks: string }>(
    db,
    sql`SELECT b.i, string_agg(
          coalesce(b.mn[1] || ',' || b.mn[2] || ',' || b.mn[3], '') || ';' || coalesce(b.mx[1] || ',' || -b.mx[2] || ',' || b.mx[3], ''),
          '|' ORDER BY b.lo) AS blocks
        FROM (
          SELECT r.i, min(m.step) AS lo,
            min(ARRAY[m.value, m.step::float8, m.wall_ms::float8]) FILTER (WHERE m.value <> 'NaN') AS mn,
            max(ARRAY[m.value, -m.step::float8, m.wall_ms::float8]) FILTER (WHERE m.value <> 'NaN') AS mx
          FROM unnest(${textArray(list.map((p) => p.runId))}::uuid[], ${textArray(list.map((p) => p.key))}::text[], ${firsts}::float8[], ${spans}::float8[])
            WITH ORDINALITY AS r(run_id, key, first, span, i)
          JOIN metrics m ON m.run_id = r.run_id AND m.key = r.key
          GROUP BY r.i, width_bucket(m.step::float8, r.first, r.first + r.span, ${buckets}::int)
        ) b
        GROUP BY b.i`,
  );
  return blocksFrom(list, found);
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




