import { stat } from 'node:fs/promises';
import { CairnError } from '@cairn/schema';
import { LocalBlobStore } from './blob-store.ts';
import { isBlobId } from './hash.ts';
import { decodeTree } from './manifest.ts';
import type { BlobId, BlobStore } from './types.ts';

/**
 * What keeps blobs alive. Every kind of blob the platform stores must be named here,
 * or gc deletes it: a `snapshot` root keeps its tree nodes and every file chunk reachable
 * through them; a `blob` root (code bundle, checkpoint, model, …) keeps that one blob.
 */
export type GcRoot = { kind: 'snapshot'; id: BlobId } | { kind: 'blob'; id: BlobId };

/** Size and modification time of a stored blob (an object store's LastModified serves as mtime). */
export interface GcBlobInfo {
  size: number;
  mtimeMs: number;
}

/**
 * A store gc can run on: it must say how old each blob is, since the grace rule is what
 * keeps a snapshot in flight safe. LocalBlobStore qualifies as is (file mtime); another
 * store provides `blobInfo`, and `cleanupTemp` if it has temp files to clear.
 */
export type GcStore =
  | LocalBlobStore
  | (BlobStore & {
      blobInfo(id: BlobId): Promise<GcBlobInfo | null>;
      cleanupTemp?(olderThanMs: number): Promise<number>;
    });

export interface GcOptions {
  store: GcStore;
  roots: GcRoot[];
  /** Report what would be removed and delete nothing (temp files included). */
  dryRun?: boolean;
  /**
   * Unreferenced blobs modified less than this long before gc started are kept: a snapshot
   * in flight writes its chunks before its root exists. Must exceed the longest snapshot
   * (or other writer) run. Default 10 minutes. Temp files older than this are removed too,
   * so 0 is only safe when nothing else writes to the store.
   */
  graceMs?: number;
  /**
   * An empty `roots` list would delete every blob older than the grace period; that is
   * almost always a caller bug, so it is refused unless this is set.
   */
  allowEmptyRoots?: boolean;
  /** How many stats/deletes run at once. Default 16. */
  concurrency?: number;
}

export interface GcResult {
  /** Blobs listed in the store. */
  scanned: number;
  /** Listed blobs left in the store (scanned − removed − any removed by another process meanwhile; in a dry run, what would be left). */
  kept: number;
  /** Distinct blob ids the roots reference (tree nodes, chunks, plain blobs), present or not. */
  reachable: number;
  /** Unreferenced blobs kept only because they are younger than the grace period. */
  fresh: number;
  /** Blobs removed (or, in a dry run, that would be), sorted. */
  removed: BlobId[];
  removedBytes: number;
  /** Referenced by a root but absent from the store (a damaged snapshot or a stale blob root), sorted. */
  missing: BlobId[];
  /** Temp files of dead writers removed (0 in a dry run). */
  tempRemoved: number;
  dryRun: boolean;
}

/** gc stopped before deleting anything: its view of what is reachable would have been incomplete. */
export class GcAbortedError extends CairnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_STATE', `gc aborted, nothing was deleted: ${message}`, options);
  }
}

export const DEFAULT_GC_GRACE_MS = 10 * 60 * 1000;

function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** A snapshot started while gc ran: gc stops; what it removed before was unreachable and old. */
export class GcBusyError extends CairnError {
  constructor(
    readonly lease: { purpose: string; pid: number; host: string; since: string },
    readonly removedBefore: number,
  ) {
    super(
      'CONFLICT',
      `gc stopped: a ${lease.purpose} is running (process ${lease.pid} on ${lease.host} since ${lease.since}); ${removedBefore} unreachable blobs were removed before it started; run gc again when it ends`,
    );
  }
}

async function blobInfo(store: GcStore, id: BlobId): Promise<GcBlobInfo | null> {
  if (store instanceof LocalBlobStore) {
    try {
      const s = await stat(store.pathOf(id));
      return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : null;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return null;
      throw e;
    }
  }
  return store.blobInfo(id);
}

/** Runs `fn` over `items` with at most `limit` in flight; the first error rejects (after in-flight ones settle). */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const bad = results.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
}

/**
 * Mark and sweep. Marks everything the roots reach (reading and re-hashing every tree node
 * of every snapshot root; chunks are not read), and only then lists the store and removes
 * blobs that are unreferenced and older than `graceMs` before gc started.
 *
 * Safety rules:
 * - A snapshot root whose tree cannot be read completely (missing, corrupt or invalid node
 *   anywhere in it) aborts gc before anything is deleted: deleting on partial knowledge
 *   would destroy the chunks of the unread part.
 * - A blob modified after `start − graceMs` is never deleted, so the chunks and nodes of a
 *   snapshot still being written (its root does not exist yet) survive. Each candidate is
 *   re-checked right before it is deleted.
 *
 * Known limit: a writer that finds an existing blob (dedup hit, stat-cache reuse) does not
 * refresh its mtime, so an old unreferenced blob re-used by a snapshot in flight can still
 * be removed. Keep gc and writers apart until the store freshens blobs on reuse.
 */
export async function gc(options: GcOptions): Promise<GcResult> {
  const { store, roots } = options;
  const dryRun = options.dryRun ?? false;
  const graceMs = options.graceMs ?? DEFAULT_GC_GRACE_MS;
  const concurrency = options.concurrency ?? 16;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new RangeError(`gc: graceMs must be a finite number >= 0, got ${graceMs}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`gc: concurrency must be an integer >= 1, got ${concurrency}`);
  if (roots.length === 0 && !options.allowEmptyRoots) {
    throw new GcAbortedError('no roots given, which would delete every blob; pass allowEmptyRoots: true if that is meant');
  }
  const start = Date.now();
  const cutoff = start - graceMs;

  // Mark.
  const reachable = new Set<BlobId>();
  const visitedTrees = new Set<BlobId>();
  const markTree = async (rootId: BlobId, id: BlobId, path: string): Promise<void> => {
    reachable.add(id);
    if (visitedTrees.has(id)) return;
    visitedTrees.add(id);
    let node;
    try {
      node = decodeTree(await store.get(id), id);
    } catch (e) {
      const where = path === '' ? 'its root node' : `the node of ${JSON.stringify(path)} (${id})`;
      const why = e instanceof Error ? e.message : String(e);
      throw new GcAbortedError(`snapshot ${rootId} cannot be read completely: ${where}: ${why}`, { cause: e });
    }
    for (const e of node.entries) {
      const p = path ? `${path}/${e.name}` : e.name;
      if (e.kind === 'dir') await markTree(rootId, e.id, p);
      else if (e.kind === 'file') for (const c of e.chunks) reachable.add(c);
    }
  };
  for (const root of roots) {
    const kind: unknown = root?.kind;
    const id: unknown = root?.id;
    if (!isBlobId(id)) throw new GcAbortedError(`root ${JSON.stringify(root)} has an invalid blob id`);
    if (kind === 'snapshot') await markTree(id, id, '');
    else if (kind === 'blob') reachable.add(id);
    else throw new GcAbortedError(`root ${JSON.stringify(root)} has unknown kind ${JSON.stringify(kind)} (expected 'snapshot' or 'blob')`);
  }

  // Sweep.
  let scanned = 0;
  const present = new Set<BlobId>();
  const candidates: BlobId[] = [];
  for await (const id of store.list()) {
    scanned++;
    if (reachable.has(id)) present.add(id);
    else candidates.push(id);
  }
  const missing = [...reachable].filter((id) => !present.has(id)).sort();

  const removed: BlobId[] = [];
  let removedBytes = 0;
  let fresh = 0;
  let vanished = 0;
  await pool(candidates, concurrency, async (id) => {
    const info = await blobInfo(store, id);
    if (!info) {
      vanished++; // Removed by someone else meanwhile.
      return;
    }
    if (info.mtimeMs > cutoff) {
      fresh++;
      return;
    }
    if (!dryRun) {
      // Checked before every delete: a snapshot takes its lease before it looks for
      // blobs, so a blob it relies on is never deleted after it started.
      const leases = (await store.activeLeases?.()) ?? [];
      if (leases.length) throw new GcBusyError(leases[0]!, removed.length);
      await store.delete(id);
    }
    removed.push(id);
    removedBytes += info.size;
  });
  removed.sort();

  let tempRemoved = 0;
  if (!dryRun && typeof store.cleanupTemp === 'function') tempRemoved = await store.cleanupTemp(graceMs);

  return { scanned, kept: scanned - removed.length - vanished, reachable: reachable.size, fresh, removed, removedBytes, missing, tempRemoved, dryRun };
}
