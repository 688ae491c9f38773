import { inArray, sql, type SQL } from 'drizzle-orm';
import { ValidationError, isUuid, runs } from '@cairn/schema';
import { rows, type Db } from './engine.ts';
import { getExperiment } from './experiments.ts';
import { compileFilter, compileSortKey, parseFilter, parseOrderBy, type SortKey } from './filter/index.ts';
import { attachDetails } from './runs.ts';
import type { Run, SearchRunsInput, SearchRunsResult } from './types.ts';

export const DEFAULT_SEARCH_LIMIT = 100;
export const MAX_SEARCH_LIMIT = 1_000;

interface Sort {
  key: SortKey;
  direction: 'asc' | 'desc';
}

/** A cursor is the sort values and id of the last row returned, as text (so NaN and timestamps survive JSON). */
interface Cursor {
  v: (string | null)[];
  id: string;
}

export async function searchRuns(db: Db, input: SearchRunsInput = {}): Promise<SearchRunsResult> {
  const limit = input.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) throw new ValidationError(`limit must be an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  const where: SQL[] = [];

  if (input.experimentIds?.length) {
    const ids = await Promise.all(input.experimentIds.map(async (e) => (await getExperiment(db, e)).id));
    where.push(sql`${runs.experimentId} IN ${ids}`);
  }
  if (!input.includeArchived) {
    where.push(sql`${runs.experimentId} IN (SELECT id FROM experiments WHERE archived_at IS NULL)`);
  }
  const ast = input.filter ? parseFilter(input.filter) : null;
  if (ast) where.push(compileFilter(ast));

  // A field may sort by more than one expression (params: as a number, then as text).
  const sorts: Sort[] = (input.orderBy?.length ? input.orderBy : ['created desc']).flatMap((spec) => {
    const o = parseOrderBy(spec);
    return compileSortKey(o.field).map((key) => ({ key, direction: o.direction }));
  });
  // The id breaks ties so pages never overlap or skip; it follows the last sort's direction.
  const idDirection = sorts[sorts.length - 1]!.direction;

  if (input.cursor) where.push(afterCursor(decodeCursor(input.cursor, sorts.length), sorts, idDirection));

  const selectSorts = sorts.map((s, i) => sql`(${s.key.expr})::text AS ${sql.raw(`s${i}`)}`);
  const order = sql.join(
    [
      ...sorts.map((s) => sql`${s.key.expr} ${sql.raw(s.direction === 'asc' ? 'ASC' : 'DESC')} NULLS LAST`),
      sql`${runs.id} ${sql.raw(idDirection === 'asc' ? 'ASC' : 'DESC')}`,
    ],
    sql`, `,
  );
  const whereSql = where.length ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql``;
  const found = await rows<Record<string, string | null> & { id: string }>(
    db,
    sql`SELECT ${runs.id} AS id, ${sql.join(selectSorts, sql`, `)} FROM ${runs} ${whereSql} ORDER BY ${order} LIMIT ${limit + 1}`,
  );
  const page = found.slice(0, limit);
  const list = page.length ? await db.select().from(runs).where(inArray(runs.id, page.map((r) => r.id))) : [];
  const byId = new Map<string, Run>(list.map((r) => [r.id, r]));
  const details = await attachDetails(db, page.map((r) => byId.get(r.id)!).filter(Boolean));
  const last = page[page.length - 1];
  const nextCursor =
    found.length > limit && last ? encodeCursor({ v: sorts.map((_, i) => last[`s${i}`] ?? null), id: last.id }) : null;
  return { runs: details, nextCursor };
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(text: string, n: number): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (Array.isArray(c.v) && c.v.length === n && c.v.every((x) => x === null || typeof x === 'string') && isUuid(c.id)) return c;
  } catch {
    // fall through
  }
  throw new ValidationError('invalid cursor: pass back the nextCursor of a search with the same sort');
}

function typed(value: string, key: SortKey): SQL {
  return key.type === 'number' ? sql`${value}::float8` : key.type === 'timestamp' ? sql`${value}::timestamptz` : sql`${value}::text`;
}

/**
 * Keyset condition "strictly after the cursor row" for ORDER BY s0, s1, …, id with
 * NULLS LAST: for some i, all earlier keys equal and key i is past the cursor's.
 * A NULL cursor value has only NULLs at and after it.
 */
function afterCursor(cursor: Cursor, sorts: Sort[], idDirection: 'asc' | 'desc'): SQL {
  const alternatives: SQL[] = [];
  const equalSoFar: SQL[] = [];
  sorts.forEach((s, i) => {
    const v = cursor.v[i] ?? null;
    const e = s.key.expr;
    if (v === null) {
      equalSoFar.push(sql`(${e}) IS NULL`);
      return;
    }
    const cmp = s.direction === 'asc' ? sql`>` : sql`<`;
    const past = sql`((${e}) ${cmp} ${typed(v, s.key)} OR (${e}) IS NULL)`;
    alternatives.push(equalSoFar.length ? sql`(${sql.join([...equalSoFar, past], sql` AND `)})` : past);
    equalSoFar.push(sql`(${e}) = ${typed(v, s.key)}`);
  });
  const idCmp = idDirection === 'asc' ? sql`>` : sql`<`;
  const idPast = sql`${runs.id} ${idCmp} ${cursor.id}::uuid`;
  alternatives.push(equalSoFar.length ? sql`(${sql.join([...equalSoFar, idPast], sql` AND `)})` : idPast);
  return sql`(${sql.join(alternatives, sql` OR `)})`;
}
