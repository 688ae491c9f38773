import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { blake3 } from '@napi-rs/blake-hash';
import { join, resolve } from 'node:path';
import { CairnError } from '@cairn/schema';
import { FastCdc, SINGLE_CHUNK_LIMIT, CDC_MAX } from './fastcdc.ts';
import { hashBytes } from './hash.ts';
import { LocalBlobStore } from './blob-store.ts';
import { FileReadError } from './errors.ts';
import { beginUnsyncedBatch, recoverUnsynced, type UnsyncedBatch } from './durability.ts';
import { HashPool } from './hash-pool.ts';
import { buildTree, type BuildInput, type NodeInfo } from './manifest.ts';
import { RACY_WINDOW_NS, StatCache, type TreeState } from './stat-cache.ts';
import type { BlobId, BlobStore, PutOptions } from './types.ts';
import { quickStat, statFile, walkTree, type FileStat, type SkippedEntry } from './walk.ts';

/** A file whose size, mtime or inode moved while it was being read, twice in a row. */
export class FileChangedError extends CairnError {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super('CONFLICT', `file ${JSON.stringify(path)} changed while it was being read (${detail}); stop whatever is writing it and snapshot again`);
  }
}

export interface SnapshotProgress {
  /** Files and symlinks done so far, of `total`. */
  done: number;
  total: number;
  /** File bytes done so far (read or reused). */
  bytes: number;
  path: string;
}

export interface SnapshotOptions {
  store: BlobStore;
  /** Folder for the stat cache; without it every file is read. */
  statCacheDir?: string;
  /** Ignore cached hashes and read every file (the cache is still refreshed). */
  rehash?: boolean;
  /**
   * Where files that must be read are hashed: 'auto' (default) uses a HashPool of worker
   * threads when there are more than POOL_MIN_FILES of them or more than POOL_MIN_BYTES
   * to read, and this thread below that (a worker costs tens of ms to start); 'always' and
   * 'never' force one or the other. The pool needs a LocalBlobStore (workers write blobs
   * themselves); other stores always hash in this thread. Results are identical either way.
   */
  pool?: 'auto' | 'always' | 'never';
  /**
   * 'batch' (default) writes a LocalBlobStore's blobs without per-blob fsync and syncs the
   * filesystem once before returning (see durability.ts); 'each' fsyncs every blob.
   */
  durability?: 'batch' | 'each';
  onProgress?: (p: SnapshotProgress) => void;
}

export interface SnapshotResult {
  /** Root tree id: the snapshot id. */
  id: BlobId;
  /** Files and symlinks recorded. */
  files: number;
  bytes: number;
  /** Special files and unrepresentable names, not recorded. */
  skipped: SkippedEntry[];
  /** Files whose chunk ids came from the stat cache, unread. */
  reused: number;
  /** Files read and hashed. */
  hashed: number;
}

/** 'auto' pool thresholds: more files than this, or more bytes than POOL_MIN_BYTES, to read. */
export const POOL_MIN_FILES = 256;
export const POOL_MIN_BYTES = 64 * 1024 * 1024;
/** Blob writes in flight at once from this thread: overlapping them keeps the disk busy (and, with per-blob fsync, lets the journal commit several together). */
const WRITES_IN_FLIGHT = 8;
/** Files handed to the HashPool at once: enough to keep every worker's pipeline full. */
const POOL_IN_FLIGHT = 64;
/** Above this many cached chunk ids, their existence is checked by listing fan-out folders instead of one stat each. */
const LIST_CHECK_MIN = 4096;

const READ_BUFFER = SINGLE_CHUNK_LIMIT;

type ReadResult = { chunks: BlobId[] } | { changed: string };

/** Bounded set of pending promises: `add` waits while `limit` are pending; `drain` waits for all and rethrows the first failure. */
class InFlight {
  private readonly pending = new Set<Promise<unknown>>();
  private error: unknown = null;
  constructor(private readonly limit: number) {}
  async add(p: Promise<unknown>): Promise<void> {
    const tracked = p.then(
      () => {
        this.pending.delete(tracked);
      },
      (e: unknown) => {
        this.pending.delete(tracked);
        this.error ??= e;
      },
    );
    this.pending.add(tracked);
    while (this.pending.size >= this.limit) await Promise.race(this.pending);
    if (this.error) throw this.error;
  }
  async drain(): Promise<void> {
    await Promise.all(this.pending);
    if (this.error) throw this.error;
  }
}

/**
 * Which of `ids` are missing from `store`. A LocalBlobStore with many ids to check lists
 * the fan-out folders the ids fall in (one readdir each) instead of one stat per id.
 */
async function missingBlobs(store: BlobStore, ids: Set<BlobId>): Promise<Set<BlobId>> {
  const missing = new Set<BlobId>();
  if (ids.size === 0) return missing;
  if (store instanceof LocalBlobStore && ids.size >= LIST_CHECK_MIN) {
    const byPrefix = new Map<string, BlobId[]>();
    for (const id of ids) {
      const p = id.slice(0, 2);
      let l = byPrefix.get(p);
      if (!l) byPrefix.set(p, (l = []));
      l.push(id);
    }
    for (const [prefix, list] of byPrefix) {
      let names: Set<string>;
      try {
        names = new Set(readdirSync(join(store.root, prefix)));
      } catch {
        names = new Set();
      }
      for (const id of list) if (!names.has(id.slice(2))) missing.add(id);
    }
    return missing;
  }
  const checks = new InFlight(32);
  for (const id of ids) {
    await checks.add(
      store.has(id).then((ok) => {
        if (!ok) missing.add(id);
      }),
    );
  }
  await checks.drain();
  return missing;
}

/**
 * Snapshots `dir` into `store`: one blob per chunk, one per directory node; returns the
 * root node's id. Symlinks are recorded, never followed; special files are reported in
 * `skipped` unopened.
 *
 * Three passes: stat every file and look it up in the stat cache (no reads); check that
 * the cached chunks are still stored (a gc may have removed them); then read and hash
 * the rest, on a HashPool when there are many, with blob writes overlapped.
 */
export async function snapshotDir(dir: string, options: SnapshotOptions): Promise<SnapshotResult> {
  // The lease keeps gc from deleting blobs this snapshot finds present and reuses
  // (a fresh blob is protected by gc's grace period; a reused old one by this).
  const release = await options.store.acquireLease?.('snapshot');
  try {
    return await snapshotUnderLease(dir, options);
  } finally {
    await release?.();
  }
}

/** The 256 fan-out folders of a LocalBlobStore. */
const PREFIXES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Each fan-out folder's mtimeNs, as TreeState.stamps records it: '-' where the folder is
 * missing, '' where it changed within the racy window (a deletion in the same timestamp tick would
 * not move it).
 */
function storeStamps(store: LocalBlobStore): string[] {
  const limit = BigInt(Date.now()) * 1_000_000n - RACY_WINDOW_NS;
  return PREFIXES.map((p) => {
    const st = lstatSync(join(store.root, p), { bigint: true, throwIfNoEntry: false });
    // A missing folder holds none of the tree's blobs; if it is still missing, it still holds none.
    if (!st) return '-';
    return st.isDirectory() && st.mtimeNs < limit ? String(st.mtimeNs) : '';
  });
}

/**
 * Fan-out folders that may have lost a blob since `stamps` were taken: every blob of the
 * recorded tree was present then, and removing a file moves its folder's mtime, so a
 * folder whose mtime is unchanged still holds them. null: nothing usable recorded.
 */
function changedPrefixes(store: LocalBlobStore, stamps: string[] | undefined): Set<string> | null {
  if (!stamps || stamps.length !== PREFIXES.length) return null;
  const now = storeStamps(store);
  const changed = new Set<string>();
  for (let i = 0; i < PREFIXES.length; i++) if (stamps[i] === '' || now[i] !== stamps[i]) changed.add(PREFIXES[i]!);
  return changed;
}

async function snapshotUnderLease(dir: string, options: SnapshotOptions): Promise<SnapshotResult> {
  const local = options.store instanceof LocalBlobStore ? options.store : null;
  // Repairs what a crash in an earlier unsynced batch left, before any blob is reused.
  if (local) await recoverUnsynced(local);
  const batch = local && options.durability !== 'each' ? new LazyBatch(local) : null;
  try {
    return await snapshotBatch(dir, options, batch, () => batch?.commit() ?? Promise.resolve());
  } catch (e) {
    // The blobs written so far are sound (and reusable): flush them rather than leave the
    // marker for a recovery pass.
    await batch?.commit().catch(() => undefined);
    throw e;
  }
}

/**
 * An unsynced batch begun only when a blob is about to be written: an unchanged
 * re-snapshot writes nothing, so it pays for neither the marker's fsync nor the
 * filesystem sync at the end.
 */
class LazyBatch {
  private started: Promise<UnsyncedBatch> | null = null;
  constructor(private readonly store: LocalBlobStore) {}

  /** Begins the batch (once) and returns the put options its writes use. */
  async begin(): Promise<PutOptions> {
    this.started ??= beginUnsyncedBatch(this.store);
    return { deferSync: (await this.started).deferSync };
  }

  async commit(): Promise<void> {
    if (this.started) await (await this.started).commit();
  }
}

async function snapshotBatch(dir: string, options: SnapshotOptions, batch: LazyBatch | null, flush: () => Promise<void>): Promise<SnapshotResult> {
  const { store } = options;
  // The cache file is read on the thread pool while this thread walks.
  const opening = options.statCacheDir ? StatCache.open(options.statCacheDir, resolve(dir)) : null;
  opening?.catch(() => undefined);
  const walked = walkTree(dir);
  const cache = opening ? await opening : null;
  const useCache = cache !== null && !options.rehash;
  const recorded = useCache ? cache.tree : null;
  const prev = recorded && recorded.store === store.location ? recorded : null;
  const local = store instanceof LocalBlobStore ? store : null;
  const inputs: BuildInput[] = [];
  const emptyDirs: string[] = [];
  const total = walked.entries.filter((e) => e.kind !== 'dir').length;
  /** Everything a tree holds besides file contents, in walk order: equal listings and all-hit files mean an equal tree. */
  const listing: string[] = [];
  let done = 0;
  let bytes = 0;
  let reused = 0;
  let hashed = 0;

  // Pass 1: stat and cache lookups. Every file gets its slot in `inputs` now, in walk order.
  interface Pending {
    index: number;
    path: string;
    abs: string;
    /** The exact stat; null for a stat-cache hit until it must be read after all. */
    st: FileStat | null;
    /** What a tree entry needs, for a stat-cache hit. */
    hit: { size: number; mode: number; mtimeMs: number } | null;
    cached: BlobId[] | null;
  }
  const files: Pending[] = [];
  let allHit = true;
  for (const e of walked.entries) {
    if (e.kind === 'dir') {
      if (e.empty) {
        emptyDirs.push(e.path);
        listing.push(`e\0${e.path}`);
      }
      continue;
    }
    if (e.kind === 'symlink') {
      const target = readlinkSync(e.abs);
      inputs.push({ path: e.path, entry: { kind: 'symlink', name: '', target }, unchanged: true });
      listing.push(`l\0${e.path}\0${JSON.stringify(target)}`);
      done++;
      options.onProgress?.({ done, total, bytes, path: e.path });
      continue;
    }
    let st: FileStat | null = null;
    let hit: { size: number; mode: number; mtimeMs: number } | null = null;
    if (useCache) {
      // One plain lstat per file; the exact (bigint) one only for files the cache misses.
      const q = quickStat(e.abs);
      const mtimeMs = cache.hitQuick(e.path, q);
      if (mtimeMs >= 0) hit = { size: q.size, mode: q.mode & 0o7777, mtimeMs };
      else st = statFile(e.abs);
    } else {
      st = statFile(e.abs);
    }
    if (!hit) allHit = false;
    listing.push(`f\0${e.path}\0${hit ? hit.mode : st!.mode}`);
    files.push({ index: inputs.length, path: e.path, abs: e.abs, st, hit, cached: null });
    inputs.push(null as unknown as BuildInput);
  }
  const sig = blake3(Buffer.from(listing.join('\n'), 'utf8')).toString('hex', 0, 16);

  // Fast path, nothing changed: same listing, every file a stat-cache hit, so the tree is
  // the recorded one. Its blobs were all present when it was recorded (put or checked);
  // an unchanged fan-out folder mtime proves none was removed since, and the lease keeps
  // gc from removing one now. Other stores take the full path (which checks with has()).
  if (prev && allHit && sig === prev.sig && local) {
    const changed = changedPrefixes(local, prev.stamps);
    if (changed && changed.size === 0) {
      if (options.onProgress) {
        for (const f of files) {
          bytes += f.hit!.size;
          options.onProgress({ done: ++done, total, bytes, path: f.path });
        }
      }
      return { id: prev.root.id, files: prev.root.files, bytes: prev.root.bytes, skipped: walked.skipped, reused: files.length, hashed: 0 };
    }
  }

  // Pass 2: a cached id whose blob is gone (gc, another store) must be re-read, not trusted;
  // a recorded directory node that is gone is rebuilt. Fan-out folders unchanged since the
  // last snapshot need no look (see the fast path).
  const changed = prev && local ? changedPrefixes(local, prev.stamps) : null;
  const toCheck = new Set<BlobId>();
  const maybeGone = (id: BlobId): boolean => changed === null || changed.has(id.slice(0, 2));
  for (const f of files) {
    if (!f.hit) continue;
    f.cached = cache!.chunksOf(f.path);
    if (f.cached) for (const c of f.cached) if (maybeGone(c)) toCheck.add(c);
  }
  if (prev) for (const d of Object.values(prev.dirs)) if (maybeGone(d[1])) toCheck.add(d[1]);
  const gone = await missingBlobs(store, toCheck);

  const place = (f: Pending, st: { size: number; mode: number; mtimeMs: number }, chunks: BlobId[], same: boolean): void => {
    bytes += st.size;
    inputs[f.index] = { path: f.path, entry: { kind: 'file', name: '', mode: st.mode, size: st.size, mtimeMs: st.mtimeMs, chunks }, unchanged: same };
    done++;
    options.onProgress?.({ done, total, bytes, path: f.path });
  };

  const toRead: Pending[] = [];
  let readBytes = 0;
  for (const f of files) {
    if (f.cached && !f.cached.some((c) => gone.has(c))) {
      reused++;
      place(f, f.hit!, f.cached, true);
    } else {
      f.st ??= statFile(f.abs);
      toRead.push(f);
      readBytes += f.st.size;
    }
  }

  // Pass 3: read and hash.
  if (toRead.length > 0) {
    const mode = options.pool ?? 'auto';
    const usePool = local !== null && (mode === 'always' || (mode === 'auto' && (toRead.length > POOL_MIN_FILES || readBytes > POOL_MIN_BYTES)));
    // Files to read will (almost always) write blobs: the batch starts before any worker does.
    const put: PutOptions = batch ? await batch.begin() : {};
    const reader = new FileReader(store, put);
    const finish = (f: Pending, st: FileStat, chunks: BlobId[]): void => {
      hashed++;
      cache?.record(f.path, st, chunks);
      place(f, st, chunks, false);
    };
    /** The in-thread read with one retry when the file changed underneath, as a worker result that did not match falls back to. */
    const readHere = async (f: Pending, st: FileStat): Promise<void> => {
      const read = (s: FileStat) =>
        reader.read(f.abs, s).catch((e: unknown) => {
          throw asReadError(f.path, e);
        });
      let r = await read(st);
      if ('changed' in r) {
        st = statFile(f.abs);
        r = await read(st);
        if ('changed' in r) throw new FileChangedError(f.path, r.changed);
      }
      finish(f, st, r.chunks);
    };
    try {
      if (usePool) {
        const pool = new HashPool({ storeRoot: local!.root, deferSync: put.deferSync });
        try {
          // A bounded number of files in flight: one promise per file for a million files
          // held more than a gigabyte.
          let next = 0;
          const runner = async (): Promise<void> => {
            while (next < toRead.length) {
              const f = toRead[next++]!;
              const r = await pool.hash(f.abs).catch((e: unknown) => {
                throw asReadError(f.path, e);
              });
              const after = statFile(f.abs);
              if (r.size === f.st!.size && unchanged(f.st!, after)) finish(f, f.st!, r.chunks);
              else await readHere(f, after);
            }
          };
          await Promise.all(Array.from({ length: POOL_IN_FLIGHT }, runner));
        } finally {
          await pool.close();
        }
      } else {
        for (const f of toRead) await readHere(f, f.st!);
      }
    } finally {
      await reader.drain();
    }
  }

  // Directories whose leaves all hit and whose signature matches keep their recorded node
  // (present: checked above), so only the directories on the way to a change are encoded.
  const dirs: TreeState['dirs'] = {};
  // Tree nodes: a node already stored (the usual case for unchanged folders) writes nothing.
  const putNode = async (b: Uint8Array): Promise<BlobId> => {
    if (!batch) return store.put(b);
    const id = hashBytes(b);
    if (await store.touch(id)) return id;
    return store.put(b, await batch.begin());
  };
  const tree = await buildTree(inputs, putNode, {
    dirs: emptyDirs,
    reuse: prev
      ? (rel: string, dirSig: string): NodeInfo | null => {
          const r = prev.dirs[rel];
          return r && r[0] === dirSig && !gone.has(r[1]) ? { id: r[1], files: r[2], bytes: r[3] } : null;
        }
      : undefined,
    onNode: cache ? (rel: string, dirSig: string, n: NodeInfo) => void (dirs[rel] = [dirSig, n.id, n.files, n.bytes]) : undefined,
  });
  // Durable before anyone can record the id (and before the cache says these blobs exist).
  await flush();
  if (cache) {
    cache.prune(new Set(files.map((f) => f.path)));
    cache.setTree({
      store: store.location,
      sig,
      root: { id: tree.rootId, files: tree.files, bytes: tree.bytes },
      dirs,
      // Taken after every put: each blob of this tree is now known present.
      ...(local ? { stamps: storeStamps(local) } : {}),
    });
    await cache.save();
  }
  return { id: tree.rootId, files: tree.files, bytes: tree.bytes, skipped: walked.skipped, reused, hashed };
}

/**
 * A raw filesystem error from reading a dataset file becomes a FileReadError naming it.
 * Blob write failures arrive as CairnErrors (BlobWriteError, rebuilt by the pool) and pass.
 */
function asReadError(path: string, e: unknown): unknown {
  if (e instanceof CairnError) return e;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? new FileReadError(path, code, { cause: e }) : e;
}

function unchanged(before: FileStat, after: FileStat): boolean {
  return after.size === before.size && after.mtimeNs === before.mtimeNs && after.ino === before.ino;
}

/**
 * Reads and chunks files in this thread. Small files get a buffer of their own so their
 * blob writes can stay in flight while the next file is read; large files go through one
 * reused read buffer, and each chunk is copied out of it for its write.
 */
class FileReader {
  private readonly buf = new Uint8Array(READ_BUFFER);
  private readonly carry = new Uint8Array(CDC_MAX);
  private readonly writes = new InFlight(WRITES_IN_FLIGHT);

  constructor(
    private readonly store: BlobStore,
    private readonly put: PutOptions,
  ) {}

  drain(): Promise<void> {
    return this.writes.drain();
  }

  private async putOwned(chunk: Uint8Array): Promise<BlobId> {
    const id = hashBytes(chunk);
    await this.writes.add(this.store.putKnown(id, chunk, this.put));
    return id;
  }

  /** A chunk in the shared buffers: copied (about 0.1 ms per MiB) so its write can overlap the next chunks' instead of waiting for its fsync. */
  private async putShared(chunk: Uint8Array): Promise<BlobId> {
    const id = hashBytes(chunk);
    await this.writes.add(this.store.putKnown(id, Buffer.from(chunk), this.put));
    return id;
  }

  /** One read of the file; `changed` (with why) when it changed underneath. */
  async read(abs: string, before: FileStat): Promise<ReadResult> {
    const chunks: BlobId[] = [];
    const fd = openSync(abs, 'r');
    let read = 0;
    let owned: Uint8Array | null = null;
    try {
      if (before.size <= SINGLE_CHUNK_LIMIT) {
        // One spare byte, so growth since the stat reads long instead of being cut off.
        owned = Buffer.allocUnsafe(before.size + 1);
        for (;;) {
          const n = readSync(fd, owned, read, owned.length - read, null);
          if (n === 0) break;
          read += n;
          if (read === owned.length) break;
        }
        if (read !== before.size) return { changed: `size was ${before.size}, read ${read} bytes` };
      } else {
        const { buf, carry } = this;
        const cdc = new FastCdc();
        let carryLen = 0;
        let chunkStart = 0;
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n === 0) break;
          const streamPos = read;
          const data = buf.subarray(0, n);
          for (const end of cdc.push(data)) {
            let chunk: Uint8Array;
            if (carryLen > 0) {
              carry.set(data.subarray(0, end - streamPos), carryLen);
              chunk = carry.subarray(0, carryLen + (end - streamPos));
            } else {
              chunk = data.subarray(chunkStart - streamPos, end - streamPos);
            }
            chunks.push(await this.putShared(chunk));
            carryLen = 0;
            chunkStart = end;
          }
          const restFrom = Math.max(0, chunkStart - streamPos);
          if (carryLen + n - restFrom > carry.length) return { changed: `grew past ${before.size} bytes while being read` };
          carry.set(data.subarray(restFrom), carryLen);
          carryLen += n - restFrom;
          read += n;
        }
        if (cdc.finish().length > 0) chunks.push(await this.putShared(carry.subarray(0, carryLen)));
        if (read !== before.size) return { changed: `size was ${before.size}, read ${read} bytes` };
      }
    } finally {
      closeSync(fd);
    }
    const after = statFile(abs);
    if (!unchanged(before, after)) {
      return { changed: `size/mtime moved from ${before.size}/${before.mtimeNs} to ${after.size}/${after.mtimeNs}` };
    }
    // Written only once the file is known unchanged, so a torn read stores nothing.
    if (owned && read > 0) chunks.push(await this.putOwned(owned.subarray(0, read)));
    return { chunks };
  }
}
