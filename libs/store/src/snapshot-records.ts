import { desc, eq, getTableColumns, inArray } from 'drizzle-orm';
import { datasets, isUuid, snapshots } from '@cairn/schema';
import type { Db } from './db.ts';
import type { SnapshotRecord } from './types.ts';

const SNAPSHOT_ID_RE = /^[0-9a-f]{64}$/;

/** Every recorded row of these snapshot ids (one per dataset that recorded it), in one query. */
export async function getSnapshots(db: Db, ids: readonly string[]): Promise<SnapshotRecord[]> {
  const wanted = [...new Set(ids.map((id) => id.toLowerCase()))].filter((id) => SNAPSHOT_ID_RE.test(id));
  if (wanted.length === 0) return [];
  const list = await db
    .select({ ...getTableColumns(snapshots), dataset: datasets.name })
    .from(snapshots)
    .innerJoin(datasets, eq(datasets.id, snapshots.datasetId))
    .where(inArray(snapshots.id, wanted))
    .orderBy(desc(snapshots.createdAt), desc(snapshots.datasetId));
  return list.map((r) => ({ ...r, created: false }));
}

/** Each dataset's newest snapshot (as latestSnapshot orders them), for all datasets or these, in one query. */
export async function latestSnapshots(db: Db, datasetIds?: readonly string[]): Promise<SnapshotRecord[]> {
  const ids = datasetIds?.filter(isUuid).map((id) => id.toLowerCase());
  if (ids && ids.length === 0) return [];
  const list = await db
    .selectDistinctOn([snapshots.datasetId], { ...getTableColumns(snapshots), dataset: datasets.name })
    .from(snapshots)
    .innerJoin(datasets, eq(datasets.id, snapshots.datasetId))
    .where(ids ? inArray(snapshots.datasetId, ids) : undefined)
    .orderBy(snapshots.datasetId, desc(snapshots.createdAt), desc(snapshots.id));
  return list.map((r) => ({ ...r, created: false }));
}
