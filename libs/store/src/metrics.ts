import { Param, eq, sql } from 'drizzle-orm';
import { ValidationError, keySchema, metricSummaries, MAX_KEY_LENGTH } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { getRunRow } from './run-row.ts';
import { validateId } from './validate.ts';
import { float8Array } from './float8-array.ts';
import { computeRollups, recomputeRollups, upsertRollups, type Columns } from './rollups.ts';
import type { MetricPoint, MetricSummary } from './types.ts';

/** Rows per statement: large enough to amortise a round trip, small enough to keep memory flat. */
export const METRIC_CHUNK = 20_000;


/**
 * Validates a batch without zod per point: ingest runs at hundreds of thousands of
 * points a second, and a distinct key is checked once per batch.
 */
export function toColumns(points: readonly MetricPoint[], now = Date.now()): Columns {
  if (!Array.isArray(points)) throw new ValidationError('metrics must be an array of points');
  const n = points.length;
  const cols: Columns = { keys: new Array(n), steps: new Array(n), walls: new Array(n), values: new Array(n) };
  const goodKeys = new Set<string>();
  for (let i = 0; i < n; i++) {
    const p = points[i];
    if (p === null || typeof p !== 'object') throw new ValidationError(`metric point ${i} is not an object`);
    const { key, value, step, wallMs } = p;
    if (!goodKeys.has(key)) {
      const r = keySchema.safeParse(key);
      if (!r.success) {
        const shown = typeof key === 'string' ? `'${key.slice(0, 40)}${key.length > 40 ? '…' : ''}'` : String(key);
        throw new ValidationError(`metric point ${i}: invalid key ${shown}: ${r.error.issues[0]?.message ?? `at most ${MAX_KEY_LENGTH} characters`}`);
      }
      goodKeys.add(key);
    }
    if (typeof value !== 'number') throw new ValidationError(`metric point ${i} (${key}): value must be a number, got ${typeof value}`);
    if (!Number.isSafeInteger(step) || step < 0) throw new ValidationError(`metric point ${i} (${key}): step must be a non-negative integer, got ${String(step)}`);
    const w = wallMs ?? now;
    if (!Number.isSafeInteger(w) || w < 0) throw new ValidationError(`metric point ${i} (${key}): wallMs must be a non-negative integer (ms since epoch)`);
    cols.keys[i] = key;
    cols.steps[i] = step;
    cols.walls[i] = w;
    cols.values[i] = value;
  }
  return cols;
}

interface KeySummary {
  keys: string[];
  lasts: number[];
  lastSteps: number[];
  lastWalls: number[];
  mins: (number | null)[];
  maxs: (number | null)[];
  counts: number[];
}

/** Per-key summary of a chunk, computed in JS: exact when every row of the chunk is inserted. */
export function summarise(c: Columns): KeySummary {
  const by = new Map<string, { last: number; lastStep: number; lastWall: number; min: number | null; max: number | null; count: number }>();
  for (let i = 0; i < c.keys.length; i++) {
    const k = c.keys[i]!;
    const v = c.values[i]!;
    const step = c.steps[i]!;
    let s = by.get(k);
    if (!s) {
      s = { last: v, lastStep: step, lastWall: c.walls[i]!, min: null, max: null, count: 0 };
      by.set(k, s);
    }
    s.count++;
    if (step >= s.lastStep) {
      s.last = v;
      s.lastStep = step;
      s.lastWall = c.walls[i]!;
    }
    if (!Number.isNaN(v)) {
      if (s.min === null || v < s.min) s.min = v;
      if (s.max === null || v > s.max) s.max = v;
    }
  }
  // Key order, so concurrent writers to one run lock summary rows in the same order and never deadlock.
  const keys = [...by.keys()].sort();
  const out: KeySummary = { keys, lasts: [], lastSteps: [], lastWalls: [], mins: [], maxs: [], counts: [] };
  for (const k of keys) {
    const s = by.get(k)!;
    out.lasts.push(s.last);
    out.lastSteps.push(s.lastStep);
    out.lastWalls.push(s.lastWall);
    out.mins.push(s.min);
    out.maxs.push(s.max);
    out.counts.push(s.count);
  }
  return out;
}

const UPSERT_SUMMARY = sql`
  ON CONFLICT (run_id, key) DO UPDATE SET
    count = s.count + excluded.count,
    min = least(s.min, excluded.min),
    max = greatest(s.max, excluded.max),
    last = CASE WHEN excluded.last_step >= s.last_step THEN excluded.last ELSE s.last END,
    last_wall_ms = CASE WHEN excluded.last_step >= s.last_step THEN excluded.last_wall_ms ELSE s.last_wall_ms END,
    last_step = greatest(s.last_step, excluded.last_step)`;

const unnestInput = (c: Columns) =>
  sql`unnest(${new Param(c.keys)}::text[], ${new Param(c.steps)}::int8[], ${new Param(c.walls)}::int8[], ${float8Array(c.values)}::float8[])`;

/**
 * The fast path, taken by every batch whose points are all new (the normal case:
 * training appends). A plain INSERT is about 2.5x faster than INSERT … ON CONFLICT,
 * and since the statement is atomic, either every row went in and the summaries
 * computed in JS are exact, or a duplicate (a retried batch, a repeated step)
 * raised unique_violation and nothing was written. Exported for message-size.test.ts:
 * it is the largest message the store sends, which bounds the host's message limit.
 */
export function appendStatement(runId: string, c: Columns, s: KeySummary) {
  return sql`
    WITH ins AS (
      INSERT INTO metrics (run_id, key, step, wall_ms, value)
      SELECT ${runId}::uuid, key, step, wall_ms, value FROM ${unnestInput(c)} AS t(key, step, wall_ms, value)
    ), roll AS (
      ${upsertRollups(runId, computeRollups(c))}
    )
    INSERT INTO metric_summaries AS s (run_id, key, last, last_step, last_wall_ms, min, max, count)
    SELECT ${runId}::uuid, * FROM unnest(${new Param(s.keys)}::text[], ${float8Array(s.lasts)}::float8[], ${new Param(s.lastSteps)}::int8[],
      ${new Param(s.lastWalls)}::int8[], ${float8Array(s.mins)}::float8[], ${float8Array(s.maxs)}::float8[], ${new Param(s.counts)}::int8[])
    ${UPSERT_SUMMARY}`;
}

/**
 * The idempotent path: ON CONFLICT DO NOTHING keeps the first value of a point,
 * and only rows really inserted are folded into the summaries, so re-sending a
 * batch adds nothing.
 */
function mergeStatement(runId: string, c: Columns) {
  return sql`
    WITH ins AS (
      INSERT INTO metrics (run_id, key, step, wall_ms, value)
      SELECT ${runId}::uuid, key, step, wall_ms, value FROM ${unnestInput(c)} AS t(key, step, wall_ms, value)
      ON CONFLICT DO NOTHING
      RETURNING key, step, wall_ms, value
    ), agg AS (
      SELECT key, count(*) AS n,
        min(value) FILTER (WHERE value <> 'NaN') AS mn,
        max(value) FILTER (WHERE value <> 'NaN') AS mx,
        max(step) AS last_step,
        (array_agg(value ORDER BY step DESC))[1] AS last,
        (array_agg(wall_ms ORDER BY step DESC))[1] AS last_wall
      FROM ins GROUP BY key
    ), up AS (
      INSERT INTO metric_summaries AS s (run_id, key, last, last_step, last_wall_ms, min, max, count)
      SELECT ${runId}::uuid, key, last, last_step, last_wall, mn, mx, n FROM agg ORDER BY key
      ${UPSERT_SUMMARY}
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM ins)::int AS inserted`;
}

function isUniqueViolation(e: unknown): boolean {
  for (let cur = e as { code?: string; cause?: unknown } | undefined, i = 0; cur && i < 5; cur = cur.cause as typeof cur, i++) {
    if (cur.code === '23505') return true;
  }
  return false;
}

function inTransaction(db: Db): boolean {
  return typeof (db as { rollback?: unknown }).rollback === 'function';
}

async function ingestChunk(db: Db, runId: string, c: Columns): Promise<number> {
  try {
    // In a transaction (a fenced write) a failed statement would abort all of it: a savepoint.
    if (inTransaction(db)) await db.transaction((tx) => tx.execute(appendStatement(runId, c, summarise(c))));
    else await db.execute(appendStatement(runId, c, summarise(c)));
    return c.keys.length;
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
  }
  return db.transaction(async (tx) => {
    const [r] = await rows<{ inserted: number }>(tx as unknown as Db, mergeStatement(runId, c));
    await tx.execute(recomputeRollups(runId, c));
    return Number(r?.inserted ?? 0);
  });
}

export async function logMetrics(db: Db, runId: string, points: readonly MetricPoint[]): Promise<{ inserted: number }> {
  validateId(runId);
  const cols = toColumns(points);
  await getRunRow(db, runId);
  let inserted = 0;
  for (let start = 0; start < cols.keys.length; start += METRIC_CHUNK) {
    const end = Math.min(start + METRIC_CHUNK, cols.keys.length);
    const chunk: Columns =
      start === 0 && end === cols.keys.length
        ? cols
        : { keys: cols.keys.slice(start, end), steps: cols.steps.slice(start, end), walls: cols.walls.slice(start, end), values: cols.values.slice(start, end) };
    inserted += await ingestChunk(db, runId, chunk);
  }
  return { inserted };
}

export async function getMetricSummaries(db: Db, runId: string): Promise<Record<string, MetricSummary>> {
  await getRunRow(db, runId);
  const list = await db.select().from(metricSummaries).where(eq(metricSummaries.runId, runId));
  return Object.fromEntries(
    list.map((m) => [m.key, { key: m.key, last: m.last, lastStep: m.lastStep, lastWallMs: m.lastWallMs, min: m.min, max: m.max, count: m.count }]),
  );
}
