import { sql } from 'drizzle-orm';
import { NotFoundError, ValidationError, isUuid } from '@cairn/schema';
import { rows, type Db } from './db.ts';

/**
 * resolveRunId limited to runs of some projects: a prefix that also matches a run the
 * caller may not see is neither ambiguous nor found through it, so a refusal reads
 * exactly as a run that does not exist. Same messages as resolveRunId.
 */
export async function resolveRunIdIn(db: Db, idOrPrefix: string, projectIds: readonly string[]): Promise<string> {
  const s = idOrPrefix.trim().toLowerCase();
  if (!/^[0-9a-f-]{4,36}$/.test(s)) throw new ValidationError(`invalid run id '${idOrPrefix.slice(0, 80)}': give a UUID or at least 4 of its leading hex digits`);
  const projects = projectIds.filter(isUuid);
  if (projects.length === 0) throw new NotFoundError('run', idOrPrefix);
  const match = s.length === 36 ? (isUuid(s) ? sql`r.id = ${s}::uuid` : null) : sql`r.id::text LIKE ${`${s}%`}`;
  if (!match) throw new NotFoundError('run', idOrPrefix);
  const found = await rows<{ id: string }>(
    db,
    sql`SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE ${match} AND e.project_id IN ${projects} ORDER BY r.id LIMIT 2`,
  );
  if (found.length === 0) throw new NotFoundError('run', idOrPrefix);
  if (found.length > 1) throw new ValidationError(`run id prefix '${idOrPrefix}' is ambiguous: give more characters`);
  return found[0]!.id;
}
