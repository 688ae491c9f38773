import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, rename, symlink, unlink, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError } from '@cairn/schema';
import { LocalBlobStore } from './blob-store.ts';
import { BlobCorruptError, BlobNotFoundError, ManifestError, UnsafePathError } from './errors.ts';
import { DEFAULT_READ_BUFFER, hashBytes } from './hash.ts';
import { readTree, symlinkEscapes, type ReadEntry } from './manifest.ts';
import { assertNoSymlinkParents, safeJoin } from './paths.ts';
import type { BlobId, BlobStore } from './types.ts';

export interface CheckoutOptions {
  store: BlobStore;
  /** Write into a non-empty destination, replacing entries the snapshot names. */
  force?: boolean;
}

export interface CheckoutResult {
  files: number;
  symlinks: number;
  dirs: number;
  bytes: number;
}

/** A corrupt chunk met during checkout; the message names the file it belongs to. */
export class CheckoutBlobCorruptError extends BlobCorruptError {
  constructor(
    readonly file: string,
    cause: BlobCorruptError,
  ) {
    super(cause.id, cause.expected, cause.actual, cause.location);
    this.message = `cannot check out ${JSON.stringify(file)}: ${cause.message}`;
  }
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

const tmpName = (abs: string): string => path.join(path.dirname(abs), `.${path.basename(abs).slice(0, 200)}.${randomBytes(6).toString('hex')}.cairn-tmp`);

/** Reads one chunk, verified against its id, into `buf` when it fits; returns the bytes (a view of `buf` or a new array). */
type ChunkReader = (id: BlobId, buf: Uint8Array) => Promise<Uint8Array>;

/** Chunks in flight per file: one being written, one being read and hashed, one queued behind. */
const RING = 3;
/** Start writeback of what is already written every this many bytes, so the final fsync has little left to do. */
const FLUSH_EVERY = 64 * 1024 * 1024;

/**
 * The stock LocalBlobStore is read directly: each blob file goes into a reused buffer and
 * is hashed there, so a chunk costs no allocation and is hashed exactly once. Any other
 * store (or a subclass with its own `get`) goes through `get`, which verifies by default.
 */
function chunkReader(store: BlobStore): ChunkReader {
  if (!(store instanceof LocalBlobStore) || store.get !== LocalBlobStore.prototype.get) {
    return (id) => store.get(id, { verify: true });
  }
  return async (id, buf) => {
    let fh: FileHandle;
    try {
      fh = await open(store.pathOf(id), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(id, store.location);
      throw e;
    }
    let n = 0;
    try {
      const { size } = await fh.stat();
      // +1 so a file that grew since the stat is still read to its end.
      let out = size + 1 <= buf.length ? buf : new Uint8Array(size + 1);
      for (;;) {
        if (n === out.length) {
          const bigger = new Uint8Array(out.length * 2);
          bigger.set(out);
          out = bigger;
        }
        const { bytesRead } = await fh.read(out, n, out.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      const bytes = out.subarray(0, n);
      const actual = hashBytes(bytes);
      if (actual !== id) throw new BlobCorruptError(id, id, actual, store.location);
      return bytes;
    } finally {
      await fh.close();
    }
  };
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off, position + off)).bytesWritten;
}

/**
 * Writes `chunks` in order to `fh`, returning the byte count. Reading and verifying the
 * next chunks overlaps writing the current one; every chunk is verified before any of its
 * bytes are written. A failure waits for the work in flight before it is thrown.
 */
async function writeChunks(fh: FileHandle, chunks: readonly BlobId[], read: ChunkReader, rel: string): Promise<number> {
  const bufs = Array.from({ length: Math.min(RING, chunks.length) }, () => new Uint8Array(DEFAULT_READ_BUFFER));
  const reads: Promise<Uint8Array>[] = [];
  // Writes are chained in order; writeDone[i] settles when chunk i is on its way to disk and its buffer is free.
  const writeDone: Promise<void>[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    // Handled here so a failure nobody awaits yet is not reported as unhandled.
    p.then(
      () => inFlight.delete(p),
      () => inFlight.delete(p),
    );
    return p;
  };
  const startRead = (i: number): void => {
    const buf = bufs[i % bufs.length]!;
    // The buffer is reused only once the write that last used it is done.
    const before = i >= bufs.length ? writeDone[i - bufs.length]! : Promise.resolve();
    reads[i] = track(before.then(() => read(chunks[i]!, buf)));
  };
  let written = 0;
  let flushed = 0;
  let flush: Promise<void> = Promise.resolve();
  let tail: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; i < Math.min(bufs.length, chunks.length); i++) startRead(i);
    for (let i = 0; i < chunks.length; i++) {
      let bytes: Uint8Array;
      try {
        bytes = await reads[i]!;
      } catch (e) {
        if (e instanceof BlobCorruptError) throw new CheckoutBlobCorruptError(rel, e);
        throw e;
      }
      const position = written;
      written += bytes.length;
      tail = track(tail.then(() => writeAll(fh, bytes, position)));
      writeDone[i] = tail;
      if (i + bufs.length < chunks.length) startRead(i + bufs.length);
      if (written - flushed >= FLUSH_EVERY) {
        // Lets the disk start on what is written while more is read and hashed; one at a time.
        flushed = written;
        const w = tail;
        flush = track(Promise.all([flush, w]).then(() => fh.datasync()));
      }
    }
    await tail;
    await flush;
    return written;
  } finally {
    await Promise.allSettled([...inFlight]);
  }
}

/**
 * Restores snapshot `id` into `destDir`. The whole tree is read and validated (every node
 * decoded and checked, every symlink target checked against symlinkEscapes) before the
 * first write. Each file is written under a temp name and renamed into place; every chunk
 * is verified as it is read, and a corrupt one aborts with an error naming the file.
 * Directories first, then files, then symlinks, so no write goes through a link the
 * snapshot itself created.
 */
export async function checkout(id: BlobId, destDir: string, options: CheckoutOptions): Promise<CheckoutResult> {
  const { store } = options;
  const dest = path.resolve(destDir);
  if (!options.force && !(await isEmptyOrMissing(dest))) {
    throw new ConflictError(`checkout destination ${dest} is not empty; choose an empty folder or pass force`);
  }

  const entries: ReadEntry[] = [];
  for await (const e of readTree(id, (b) => store.get(b))) {
    safeJoin(dest, e.path);
    if (e.entry.kind === 'symlink') {
      const parent = path.posix.dirname(e.path);
      if (symlinkEscapes(parent === '.' ? '' : parent, e.entry.target)) {
        throw new UnsafePathError(e.path, `symlink target ${JSON.stringify(e.entry.target)} points outside the snapshot`);
      }
    }
    entries.push(e);
  }

  await mkdir(dest, { recursive: true });
  const result: CheckoutResult = { files: 0, symlinks: 0, dirs: 0, bytes: 0 };

  for (const { path: rel, entry } of entries) {
    if (entry.kind !== 'dir') continue;
    // Checks every segment of rel itself, not only its parents.
    await assertNoSymlinkParents(dest, `${rel}/x`);
    await mkdir(safeJoin(dest, rel), { recursive: true });
    result.dirs++;
  }

  const reader = chunkReader(store);
  for (const { path: rel, entry } of entries) {
    if (entry.kind !== 'file') continue;
    const abs = safeJoin(dest, rel);
    await assertNoSymlinkParents(dest, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    const tmp = tmpName(abs);
    const fh = await open(tmp, 'wx', 0o600);
    let ok = false;
    try {
      try {
        const written = await writeChunks(fh, entry.chunks, reader, rel);
        if (written !== entry.size) throw new ManifestError(`file ${JSON.stringify(rel)} should be ${entry.size} bytes but its chunks hold ${written}`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      // Permission bits only: setuid/setgid/sticky from a snapshot are not applied.
      await chmod(tmp, entry.mode & 0o777);
      // Half a millisecond in, so float rounding cannot land in the previous millisecond.
      const t = (entry.mtimeMs + 0.5) / 1000;
      await utimes(tmp, t, t);
      await rename(tmp, abs);
      ok = true;
    } finally {
      if (!ok) await unlink(tmp).catch(() => undefined);
    }
    result.files++;
    result.bytes += entry.size;
  }

  for (const { path: rel, entry } of entries) {
    if (entry.kind !== 'symlink') continue;
    const abs = safeJoin(dest, rel);
    await assertNoSymlinkParents(dest, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    const existing = await lstat(abs).catch(() => null);
    if (existing?.isDirectory()) throw new UnsafePathError(rel, 'a directory is in the way of this symlink');
    const tmp = tmpName(abs);
    await symlink(entry.target, tmp);
    try {
      await rename(tmp, abs);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    result.symlinks++;
  }
  return result;
}
