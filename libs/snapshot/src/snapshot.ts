import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CairnError } from '@cairn/schema';
import { FastCdc, SINGLE_CHUNK_LIMIT, CDC_MAX } from './fastcdc.ts';
import { hashBytes } from './hash.ts';
import { LocalBlobStore } from './blob-store.ts';
import { HashPool } from './hash-pool.ts';
import { buildTree, type BuildInput } from './manifest.ts';
import { StatCache } from './stat-cache.ts';
import type { BlobId, BlobStore } from './types.ts';
import { statFile, walkTree, type FileStat, type SkippedEntry } from './walk.ts';

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
/** Blob writes in flight at once from this thread: each ends in an fsync, and overlapping them lets the journal commit several together. */
const WRITES_IN_FLIGHT = 8;
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

async function snapshotUnderLease(dir: string, options: SnapshotOptions): Promise<SnapshotResult> {
  const { store } = options;
  const walked = walkTree(dir);
  const cache = options.statCacheDir ? await StatCache.open(options.statCacheDir, walked.root) : null;
  const inputs: BuildInput[] = [];
  const emptyDirs: string[] = [];
  const seen = new Set<string>();
  const total = walked.entries.filter((e) => e.kind !== 'dir').length;
  let done = 0;
  let bytes = 0;
  let reused = 0;
  let hashed = 0;

  // Pass 1: stat and cache lookups. Every file gets its slot in `inputs` now, in walk order.
  interface Pending {
    index: number;
    path: string;
    abs: string;
    st: FileStat;
    cached: BlobId[] | null;
  }
  const files: Pending[] = [];
  for (const e of walked.entries) {
    if (e.kind === 'dir') {
      if (e.empty) emptyDirs.push(e.path);
      continue;
    }
    if (e.kind === 'symlink') {
      inputs.push({ path: e.path, entry: { kind: 'symlink', name: '', target: readlinkSync(e.abs) } });
      done++;
      options.onProgress?.({ done, total, bytes, path: e.path });
      continue;
    }
    const st = statFile(e.abs);
    const cached = cache && !options.rehash ? cache.lookup(e.path, st) : null;
    files.push({ index: inputs.length, path: e.path, abs: e.abs, st, cached });
    seen.add(e.path);
    inputs.push(null as unknown as BuildInput);
  }

  // Pass 2: a cached id whose blob is gone (gc, another store) must be re-read, not trusted.
  const cachedIds = new Set<BlobId>();
  for (const f of files) if (f.cached) for (const c of f.cached) cachedIds.add(c);
  const gone = await missingBlobs(store, cachedIds);

  const place = (f: Pending, st: FileStat, chunks: BlobId[]): void => {
    bytes += st.size;
    inputs[f.index] = { path: f.path, entry: { kind: 'file', name: '', mode: st.mode, size: st.size, mtimeMs: st.mtimeMs, chunks } };
    done++;
    options.onProgress?.({ done, total, bytes, path: f.path });
  };

  const toRead: Pending[] = [];
  let readBytes = 0;
  for (const f of files) {
    if (f.cached && !f.cached.some((c) => gone.has(c))) {
      reused++;
      place(f, f.st, f.cached);
    } else {
      toRead.push(f);
      readBytes += f.st.size;
    }
  }

  // Pass 3: read and hash.
  if (toRead.length > 0) {
    const local = store instanceof LocalBlobStore ? store : null;
    const mode = options.pool ?? 'auto';
    const usePool = local !== null && (mode === 'always' || (mode === 'auto' && (toRead.length > POOL_MIN_FILES || readBytes > POOL_MIN_BYTES)));
    const reader = new FileReader(store);
    const finish = (f: Pending, st: FileStat, chunks: BlobId[]): void => {
      hashed++;
      cache?.record(f.path, st, chunks);
      place(f, st, chunks);
    };
    /** The in-thread read with one retry when the file changed underneath, as a worker result that did not match falls back to. */
    const readHere = async (f: Pending, st: FileStat): Promise<void> => {
      let r = await reader.read(f.abs, st);
      if ('changed' in r) {
        st = statFile(f.abs);
        r = await reader.read(f.abs, st);
        if ('changed' in r) throw new FileChangedError(f.path, r.changed);
      }
      finish(f, st, r.chunks);
    };
    try {
      if (usePool) {
        const pool = new HashPool({ storeRoot: local!.root });
        try {
          await Promise.all(
            toRead.map(async (f) => {
              const r = await pool.hash(f.abs);
              const after = statFile(f.abs);
              if (r.size === f.st.size && unchanged(f.st, after)) finish(f, f.st, r.chunks);
              else await readHere(f, after);
            }),
          );
        } finally {
          await pool.close();
        }
      } else {
        for (const f of toRead) await readHere(f, f.st);
      }
    } finally {
      await reader.drain();
    }
  }

  const tree = await buildTree(inputs, (b) => store.put(b), { dirs: emptyDirs });
  if (cache) {
    cache.prune(seen);
    await cache.save();
  }
  return { id: tree.rootId, files: tree.files, bytes: tree.bytes, skipped: walked.skipped, reused, hashed };
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

  constructor(private readonly store: BlobStore) {}

  drain(): Promise<void> {
    return this.writes.drain();
  }

  private async putOwned(chunk: Uint8Array): Promise<BlobId> {
    const id = hashBytes(chunk);
    await this.writes.add(this.store.putKnown(id, chunk));
    return id;
  }

  /** A chunk in the shared buffers: copied (about 0.1 ms per MiB) so its write can overlap the next chunks' instead of waiting for its fsync. */
  private async putShared(chunk: Uint8Array): Promise<BlobId> {
    const id = hashBytes(chunk);
    await this.writes.add(this.store.putKnown(id, Buffer.from(chunk)));
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
