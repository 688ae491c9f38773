import { sql } from 'drizzle-orm';
import { runs, type RunStatus } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { searchConditions } from './search.ts';
import { validateId } from './validate.ts';
import type { SearchRunsInput } from './types.ts';

/** How many runs a search would list over all its pages: the same conditions as searchRuns, counted. */
export async function countRuns(db: Db, input: Pick<SearchRunsInput, 'experimentIds' | 'filter' | 'includeArchived'> = {}): Promise<number> {
  const { where } = await searchConditions(db, input);
  const [row] = await rows<{ n: number | string }>(
    db,
    sql`SELECT count(*)::int AS n FROM ${runs} ${where.length ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql``}`,
  );
  return Number(row?.n ?? 0);
}

/** Children per parent run (a sweep's trials) by status, in one grouped query. */
export async function childRunCounts(db: Db, parentIds: readonly string[]): Promise<Record<string, Partial<Record<RunStatus, number>>>> {
  const ids = [...new Set(parentIds.map((id) => validateId(id, 'parent run id')))];
  const out: Record<string, Partial<Record<RunStatus, number>>> = Object.fromEntries(ids.map((id) => [id, {}]));
  if (ids.length === 0) return out;
  const counts = await rows<{ parent: string; status: RunStatus; n: number | string }>(
    db,
    sql`SELECT parent_run_id AS parent, status, count(*)::int AS n FROM runs WHERE parent_run_id IN ${ids} GROUP BY parent_run_id, status`,
  );
  for (const c of counts) out[c.parent]![c.status] = Number(c.n);
  return out;
}
