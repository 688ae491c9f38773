import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import { CairnError } from '@cairn/schema';
import { FastCdc, SINGLE_CHUNK_LIMIT, CDC_MAX } from './fastcdc.ts';
import { hashBytes } from './hash.ts';
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

const READ_BUFFER = SINGLE_CHUNK_LIMIT;

/**
 * Snapshots `dir` into `store`: one blob per chunk, one per directory node; returns the
 * root node's id. Symlinks are recorded, never followed; special files are reported in
 * `skipped` unopened. Files are read synchronously into one reused buffer (see hashFile).
 */
export async function snapshotDir(dir: string, options: SnapshotOptions): Promise<SnapshotResult> {
  const { store } = options;
  const walked = walkTree(dir);
  const cache = options.statCacheDir ? await StatCache.open(options.statCacheDir, walked.root) : null;
  const buf = new Uint8Array(READ_BUFFER);
  const carry = new Uint8Array(CDC_MAX);
  const inputs: BuildInput[] = [];
  const emptyDirs: string[] = [];
  const seen = new Set<string>();
  const total = walked.entries.filter((e) => e.kind !== 'dir').length;
  let done = 0;
  let bytes = 0;
  let reused = 0;
  let hashed = 0;

  const putChunk = async (chunk: Uint8Array): Promise<BlobId> => {
    const id = hashBytes(chunk);
    if (!(await store.has(id))) await store.putKnown(id, chunk);
    return id;
  };

  /** One read of the file; null when it changed underneath (with why). */
  const readOnce = async (abs: string, before: FileStat): Promise<{ chunks: BlobId[] } | { changed: string }> => {
    const chunks: BlobId[] = [];
    const fd = openSync(abs, 'r');
    let read = 0;
    try {
      if (before.size <= SINGLE_CHUNK_LIMIT) {
        // One chunk: fill the buffer; one extra byte of room is not there, so probe for growth.
        while (read < buf.length) {
          const n = readSync(fd, buf, read, buf.length - read, null);
          if (n === 0) break;
          read += n;
        }
        if (read === buf.length && readSync(fd, new Uint8Array(1), 0, 1, null) > 0) read += 1;
        if (read !== before.size) return { changed: `size was ${before.size}, read ${read} bytes` };
        if (read > 0) chunks.push(await putChunk(buf.subarray(0, read)));
      } else {
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
            chunks.push(await putChunk(chunk));
            carryLen = 0;
            chunkStart = end;
          }
          const restFrom = Math.max(0, chunkStart - streamPos);
          carry.set(data.subarray(restFrom), carryLen);
          carryLen += n - restFrom;
          read += n;
        }
        if (cdc.finish().length > 0) chunks.push(await putChunk(carry.subarray(0, carryLen)));
        if (read !== before.size) return { changed: `size was ${before.size}, read ${read} bytes` };
      }
    } finally {
      closeSync(fd);
    }
    const after = statFile(abs);
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs || after.ino !== before.ino) {
      return { changed: `size/mtime moved from ${before.size}/${before.mtimeNs} to ${after.size}/${after.mtimeNs}` };
    }
    return { chunks };
  };

  for (const e of walked.entries) {
    if (e.kind === 'dir') {
      if (e.empty) emptyDirs.push(e.path);
      continue;
    }
    if (e.kind === 'symlink') {
      inputs.push({ path: e.path, entry: { kind: 'symlink', name: '', target: readlinkSync(e.abs) } });
    } else {
      let st = statFile(e.abs);
      let chunks: BlobId[] | null = null;
      if (cache && !options.rehash) {
        const hit = cache.lookup(e.path, st);
        // A cached id whose blob is gone (gc, another store) must be re-read, not trusted.
        if (hit) {
          let all = true;
          for (const c of hit) if (!(await store.has(c))) { all = false; break; }
          if (all) chunks = hit;
        }
      }
      if (chunks) {
        reused++;
      } else {
        let r = await readOnce(e.abs, st);
        if ('changed' in r) {
          st = statFile(e.abs);
          r = await readOnce(e.abs, st);
          if ('changed' in r) throw new FileChangedError(e.path, r.changed);
        }
        chunks = r.chunks;
        hashed++;
        cache?.record(e.path, st, chunks);
      }
      seen.add(e.path);
      bytes += st.size;
      inputs.push({ path: e.path, entry: { kind: 'file', name: '', mode: st.mode, size: st.size, mtimeMs: st.mtimeMs, chunks } });
    }
    done++;
    options.onProgress?.({ done, total, bytes, path: e.path });
  }

  const tree = await buildTree(inputs, (b) => store.put(b), { dirs: emptyDirs });
  if (cache) {
    cache.prune(seen);
    await cache.save();
  }
  return { id: tree.rootId, files: tree.files, bytes: tree.bytes, skipped: walked.skipped, reused, hashed };
}
