import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { ConflictError, NotFoundError, ValidationError, datasets, isUuid, nameSchema, newId, snapshots } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { ensureProject } from './experiments.ts';
import { addLineageEdge } from './lineage.ts';
import { validate } from './validate.ts';
import type { Dataset, DatasetSummary, RecordSnapshotInput, SnapshotRecord } from './types.ts';

const SNAPSHOT_ID_RE = /^[0-9a-f]{64}$/;

export async function ensureDataset(db: Db, input: { project?: string; name: string; description?: string }): Promise<Dataset> {
  validate(nameSchema, input.name, 'dataset name');
  const project = await ensureProject(db, input.project ?? 'default');
  await db.insert(datasets).values({ id: newId(), projectId: project.id, name: input.name, description: input.description ?? '' }).onConflictDoNothing();
  const [d] = await db.select().from(datasets).where(and(eq(datasets.projectId, project.id), eq(datasets.name, input.name)));
  return d!;
}

export async function getDataset(db: Db, idOrName: string, project = 'default'): Promise<Dataset> {
  let d: Dataset | undefined;
  if (isUuid(idOrName)) [d] = await db.select().from(datasets).where(eq(datasets.id, idOrName.toLowerCase()));
  if (!d) {
    const found = await rows<{ id: string }>(
      db,
      sql`SELECT d.id FROM datasets d JOIN projects p ON p.id = d.project_id WHERE p.name = ${project} AND d.name = ${idOrName}`,
    );
    if (found[0]) [d] = await db.select().from(datasets).where(eq(datasets.id, found[0].id));
  }
  if (!d) throw new NotFoundError('dataset', idOrName);
  return d;
}

export async function listDatasets(db: Db): Promise<DatasetSummary[]> {
  const list = await db.select().from(datasets).orderBy(asc(datasets.name));
  const stats = await rows<{ dataset_id: string; n: number; last: Date | string | null }>(
    db,
    sql`SELECT dataset_id, count(*)::int AS n, max(created_at) AS last FROM snapshots GROUP BY dataset_id`,
  );
  const latest = await rows<{ dataset_id: string; id: string }>(
    db,
    sql`SELECT DISTINCT ON (dataset_id) dataset_id, id FROM snapshots ORDER BY dataset_id, created_at DESC, id`,
  );
  return list.map((d) => {
    const s = stats.find((x) => x.dataset_id === d.id);
    return {
      ...d,
      snapshotCount: s?.n ?? 0,
      lastSnapshotAt: s?.last ? new Date(s.last) : null,
      latestSnapshotId: latest.find((x) => x.dataset_id === d.id)?.id ?? null,
    };
  });
}

/**
 * Records a snapshot of a dataset. The parent defaults to the dataset's latest
 * snapshot, so `log` reads as a history. Recording the same id again is a no-op that
 * returns the existing row (re-snapshotting unchanged data changes nothing), as a git
 * commit with no changes would not. Lineage: dataset → snapshot, parent → child.
 */
export async function recordSnapshot(db: Db, input: RecordSnapshotInput): Promise<SnapshotRecord> {
  if (!SNAPSHOT_ID_RE.test(input.id)) throw new ValidationError(`invalid snapshot id '${String(input.id).slice(0, 80)}': expected 64 lowercase hex characters`);
  if (!Number.isSafeInteger(input.fileCount) || input.fileCount < 0 || !Number.isSafeInteger(input.bytes) || input.bytes < 0) {
    throw new ValidationError('snapshot fileCount and bytes must be non-negative integers');
  }
  const dataset = await ensureDataset(db, { project: input.project, name: input.dataset });
  const [existing] = await db.select().from(snapshots).where(and(eq(snapshots.datasetId, dataset.id), eq(snapshots.id, input.id)));
  if (existing) return { ...existing, dataset: dataset.name, created: false };
  let parentId = input.parentId === undefined ? ((await latestSnapshot(db, dataset.id))?.id ?? null) : input.parentId;
  if (parentId !== null) {
    if (!SNAPSHOT_ID_RE.test(parentId)) throw new ValidationError(`invalid parent snapshot id '${parentId.slice(0, 80)}'`);
    if (parentId === input.id) parentId = null;
  }
  const [row] = await db
    .insert(snapshots)
    .values({
      id: input.id,
      datasetId: dataset.id,
      parentId,
      message: input.message ?? '',
      fileCount: input.fileCount,
      bytes: input.bytes,
      profile: input.profile ?? null,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) {
    // A concurrent writer recorded the same snapshot first.
    const [again] = await db.select().from(snapshots).where(and(eq(snapshots.datasetId, dataset.id), eq(snapshots.id, input.id)));
    if (!again) throw new ConflictError(`snapshot ${input.id} could not be recorded`);
    return { ...again, dataset: dataset.name, created: false };
  }
  await addLineageEdge(db, { kind: 'dataset', id: dataset.id }, { kind: 'snapshot', id: input.id }, 'version');
  if (parentId) await addLineageEdge(db, { kind: 'snapshot', id: parentId }, { kind: 'snapshot', id: input.id }, 'parent_of');
  return { ...row, dataset: dataset.name, created: true };
}

export async function latestSnapshot(db: Db, datasetIdOrName: string): Promise<SnapshotRecord | null> {
  const dataset = await getDataset(db, datasetIdOrName);
  const [row] = await db
    .select()
    .from(snapshots)
    .where(eq(snapshots.datasetId, dataset.id))
    .orderBy(desc(snapshots.createdAt), desc(snapshots.id))
    .limit(1);
  return row ? { ...row, dataset: dataset.name, created: false } : null;
}

/** A dataset's snapshots, newest first. */
export async function listSnapshots(db: Db, datasetIdOrName: string, limit = 100): Promise<SnapshotRecord[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ValidationError('limit must be an integer from 1 to 10000');
  const dataset = await getDataset(db, datasetIdOrName);
  const list = await db
    .select()
    .from(snapshots)
    .where(eq(snapshots.datasetId, dataset.id))
    .orderBy(desc(snapshots.createdAt), desc(snapshots.id))
    .limit(limit);
  return list.map((r) => ({ ...r, dataset: dataset.name, created: false }));
}

/** Resolves a unique prefix (at least 4 hex digits) of a recorded snapshot id. */
export async function resolveSnapshotId(db: Db, prefix: string): Promise<string> {
  const p = prefix.trim().toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(p)) throw new ValidationError(`invalid snapshot id '${prefix.slice(0, 80)}': give at least 4 of its leading hex digits`);
  const found = await rows<{ id: string }>(db, sql`SELECT DISTINCT id FROM snapshots WHERE id LIKE ${`${p}%`} ORDER BY id LIMIT 2`);
  if (found.length === 0) throw new NotFoundError('snapshot', prefix);
  if (found.length > 1) throw new ValidationError(`snapshot id prefix '${prefix}' is ambiguous: give more characters`);
  return found[0]!.id;
}

/** Every recorded snapshot id: the roots a blob garbage collection must keep. */
export async function allSnapshotIds(db: Db): Promise<string[]> {
  const list = await rows<{ id: string }>(db, sql`SELECT DISTINCT id FROM snapshots`);
  return list.map((r) => r.id);
}
