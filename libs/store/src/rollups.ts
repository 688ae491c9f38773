import { Param, sql } from 'drizzle-orm';
import { ROLLUP_LEVELS } from '@cairn/schema';
import { float8Array } from './float8-array.ts';

/** The points of one chunk as column arrays (what the ingest statement unnests). */
export interface Columns {
  keys: string[];
  steps: number[];
  walls: number[];
  values: number[];
}

interface Agg {
  key: string;
  level: number;
  block: number;
  count: number;
  firstStep: number;
  lastStep: number;
  min: number | null;
  minStep: number | null;
  minWall: number | null;
  max: number | null;
  maxStep: number | null;
  maxWall: number | null;
}

const FINEST = ROLLUP_LEVELS[0];

function merge(into: Agg, from: Agg): void {
  into.count += from.count;
  if (from.firstStep < into.firstStep) into.firstStep = from.firstStep;
  if (from.lastStep > into.lastStep) into.lastStep = from.lastStep;
  // Ties go to the earlier step, so the result does not depend on arrival order.
  if (from.min !== null && (into.min === null || from.min < into.min || (from.min === into.min && from.minStep! < into.minStep!))) {
    into.min = from.min;
    into.minStep = from.minStep;
    into.minWall = from.minWall;
  }
  if (from.max !== null && (into.max === null || from.max > into.max || (from.max === into.max && from.maxStep! < into.maxStep!))) {
    into.max = from.max;
    into.maxStep = from.maxStep;
    into.maxWall = from.maxWall;
  }
}

/**
 * Rolls a chunk up into blocks at every level: the finest level from the points
 * (one map lookup per point, none while consecutive points share a block), each
 * coarser level from the one below it.
 */
export function computeRollups(c: Columns) {
  const perKey = new Map<string, Map<number, Agg>>();
  let curKey: string | undefined;
  let blocks: Map<number, Agg> = new Map();
  let cur: Agg | undefined;
  for (let i = 0; i < c.keys.length; i++) {
    const k = c.keys[i]!;
    const step = c.steps[i]!;
    const v = c.values[i]!;
    if (k !== curKey) {
      curKey = k;
      let m = perKey.get(k);
      if (!m) perKey.set(k, (m = new Map()));
      blocks = m;
      cur = undefined;
    }
    const b = Math.floor(step / FINEST);
    if (!cur || cur.block !== b) {
      cur = blocks.get(b);
      if (!cur) {
        cur = { key: k, level: FINEST, block: b, count: 0, firstStep: step, lastStep: step, min: null, minStep: null, minWall: null, max: null, maxStep: null, maxWall: null };
        blocks.set(b, cur);
      }
    }
    cur.count++;
    if (step < cur.firstStep) cur.firstStep = step;
    if (step > cur.lastStep) cur.lastStep = step;
    if (!Number.isNaN(v)) {
      if (cur.min === null || v < cur.min || (v === cur.min && step < cur.minStep!)) {
        cur.min = v;
        cur.minStep = step;
        cur.minWall = c.walls[i]!;
      }
      if (cur.max === null || v > cur.max || (v === cur.max && step < cur.maxStep!)) {
        cur.max = v;
        cur.maxStep = step;
        cur.maxWall = c.walls[i]!;
      }
    }
  }
  const all: Agg[] = [];
  for (const m of perKey.values()) {
    let level: Agg[] = [...m.values()];
    all.push(...level);
    for (let li = 1; li < ROLLUP_LEVELS.length; li++) {
      const size = ROLLUP_LEVELS[li]!;
      const ratio = size / ROLLUP_LEVELS[li - 1]!;
      const up = new Map<number, Agg>();
      for (const a of level) {
        const b = Math.floor(a.block / ratio);
        const u = up.get(b);
        if (u) merge(u, a);
        else up.set(b, { ...a, level: size, block: b });
      }
      level = [...up.values()];
      all.push(...level);
    }
  }
  // Sorted, so concurrent writers to one run lock rows in the same order.
  all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.level - b.level || a.block - b.block));
  return all;
}

/** INSERT … ON CONFLICT that folds new blocks into stored ones. */
export function upsertRollups(runId: string, aggs: Agg[]) {
  const col = <T>(f: (a: Agg) => T) => new Param(aggs.map(f));
  return sql`
    INSERT INTO metric_rollups AS r (run_id, key, level, block, count, first_step, last_step, min, min_step, min_wall_ms, max, max_step, max_wall_ms)
    SELECT ${runId}::uuid, * FROM unnest(
      ${col((a) => a.key)}::text[], ${col((a) => a.level)}::int[], ${col((a) => a.block)}::int8[], ${col((a) => a.count)}::int8[],
      ${col((a) => a.firstStep)}::int8[], ${col((a) => a.lastStep)}::int8[],
      ${float8Array(aggs.map((a) => a.min))}::float8[], ${col((a) => a.minStep)}::int8[], ${col((a) => a.minWall)}::int8[],
      ${float8Array(aggs.map((a) => a.max))}::float8[], ${col((a) => a.maxStep)}::int8[], ${col((a) => a.maxWall)}::int8[])
    ON CONFLICT (run_id, key, level, block) DO UPDATE SET
      count = r.count + excluded.count,
      first_step = least(r.first_step, excluded.first_step),
      last_step = greatest(r.last_step, excluded.last_step),
      min = least(r.min, excluded.min),
      min_step = CASE WHEN excluded.min IS NOT NULL AND (r.min IS NULL OR excluded.min < r.min OR (excluded.min = r.min AND excluded.min_step < r.min_step)) THEN excluded.min_step ELSE r.min_step END,
      min_wall_ms = CASE WHEN excluded.min IS NOT NULL AND (r.min IS NULL OR excluded.min < r.min OR (excluded.min = r.min AND excluded.min_step < r.min_step)) THEN excluded.min_wall_ms ELSE r.min_wall_ms END,
      max = greatest(r.max, excluded.max),
      max_step = CASE WHEN excluded.max IS NOT NULL AND (r.max IS NULL OR excluded.max > r.max OR (excluded.max = r.max AND excluded.max_step < r.max_step)) THEN excluded.max_step ELSE r.max_step END,
      max_wall_ms = CASE WHEN excluded.max IS NOT NULL AND (r.max IS NULL OR excluded.max > r.max OR (excluded.max = r.max AND excluded.max_step < r.max_step)) THEN excluded.max_wall_ms ELSE r.max_wall_ms END`;
}

/**
 * Rebuilds, from the stored points, every block a chunk touched: used after the
 * idempotent (ON CONFLICT) ingest path, where which rows went in is not known in JS.
 */
export function recomputeRollups(runId: string, c: Columns) {
  return sql`
    WITH rng AS (
      SELECT key, min(step) AS lo, max(step) AS hi FROM unnest(${new Param(c.keys)}::text[], ${new Param(c.steps)}::int8[]) AS t(key, step) GROUP BY key
    )
    INSERT INTO metric_rollups AS r (run_id, key, level, block, count, first_step, last_step, min, min_step, min_wall_ms, max, max_step, max_wall_ms)
    SELECT m.run_id, m.key, l.level, m.step / l.level, count(*), min(m.step), max(m.step),
      (min(ARRAY[m.value, m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[1],
      (min(ARRAY[m.value, m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[2],
      (min(ARRAY[m.value, m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[3],
      (max(ARRAY[m.value, -m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[1],
      -(max(ARRAY[m.value, -m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[2],
      (max(ARRAY[m.value, -m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[3]
    FROM rng
    CROSS JOIN unnest(${new Param([...ROLLUP_LEVELS])}::int8[]) AS l(level)
    JOIN metrics m ON m.run_id = ${runId}::uuid AND m.key = rng.key
      AND m.step >= (rng.lo / l.level) * l.level AND m.step < (rng.hi / l.level + 1) * l.level
    GROUP BY m.run_id, m.key, l.level, m.step / l.level
    ORDER BY m.key, l.level, m.step / l.level
    ON CONFLICT (run_id, key, level, block) DO UPDATE SET
      count = excluded.count, first_step = excluded.first_step, last_step = excluded.last_step,
      min = excluded.min, min_step = excluded.min_step, min_wall_ms = excluded.min_wall_ms,
      max = excluded.max, max_step = excluded.max_step, max_wall_ms = excluded.max_wall_ms`;
}
