import { desc, inArray } from 'drizzle-orm';
import { deployments, isUuid } from '@cairn/schema';
import type { Db } from './db.ts';
import type { Deployment } from './types.ts';

/** The deployments of several model versions (a model's page), newest first, in one query. */
export async function listDeploymentsOf(db: Db, versionIds: readonly string[]): Promise<Deployment[]> {
  const ids = [...new Set(versionIds.filter(isUuid).map((id) => id.toLowerCase()))];
  if (ids.length === 0) return [];
  return db.select().from(deployments).where(inArray(deployments.modelVersionId, ids)).orderBy(desc(deployments.startedAt), desc(deployments.id));
}
