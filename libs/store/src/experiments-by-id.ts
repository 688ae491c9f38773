import { asc, inArray } from 'drizzle-orm';
import { experimentTags, experiments, isUuid } from '@cairn/schema';
import type { Db } from './db.ts';
import type { Experiment } from './types.ts';

/** Several experiments by id in two queries (rows, then tags); ids not found are left out. */
export async function getExperiments(db: Db, ids: readonly string[]): Promise<Experiment[]> {
  const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return [];
  const [list, tags] = await Promise.all([
    db.select().from(experiments).where(inArray(experiments.id, wanted)),
    db.select().from(experimentTags).where(inArray(experimentTags.experimentId, wanted)),
  ]);
  const byId = new Map(list.map((e) => [e.id, { ...e, tags: {} as Record<string, string> }]));
  for (const t of tags) {
    const e = byId.get(t.experimentId);
    if (e) e.tags[t.key] = t.value;
  }
  return wanted.flatMap((id) => byId.get(id) ?? []);
}

/** Every experiment's id and project, without run counts: what an access check scopes a search by. */
export async function listExperimentOwners(db: Db): Promise<{ id: string; projectId: string }[]> {
  return db.select({ id: experiments.id, projectId: experiments.projectId }).from(experiments).orderBy(asc(experiments.id));
}
