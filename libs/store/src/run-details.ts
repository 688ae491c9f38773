import type { Db } from './db.ts';
import { attachDetails, getRunHeads } from './runs.ts';
import type { RunDetail } from './types.ts';

/** Many runs with params, tags and metric summaries in four queries, in the order asked; ids not found are left out. */
export async function getRunDetails(db: Db, ids: readonly string[]): Promise<RunDetail[]> {
  const heads = await getRunHeads(db, ids);
  const byId = new Map(heads.map((r) => [r.id, r]));
  const ordered = [...new Set(ids.map((id) => id.toLowerCase()))].flatMap((id) => byId.get(id) ?? []);
  return attachDetails(db, ordered);
}
