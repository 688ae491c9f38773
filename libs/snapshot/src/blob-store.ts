import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { BlobCorruptError, BlobNotFoundError, BlobWriteError, InvalidBlobIdError } from './errors.ts';
import { hashBytes, isBlobId } from './hash.ts';
import type { BlobId, BlobStore, PutOptions } from './types.ts';

/** `<home>/blobs`, with home (CAIRN_HOME, as the app read it) defaulting to ./.cairn as in @cairn/store. */
export function defaultBlobRoot(home?: string): string {
  return resolve(home ?? '.cairn', 'blobs');
}

const TMP_DIR = 'tmp';
const TMP_SUFFIX = '.tmp';
const FANOUT = /^[0-9a-f]{2}$/;
const REST = /^[0-9a-f]{62}$/;
/** Bounded writes: one write() may be short anyway, and this keeps a libuv thread from holding one huge call. */
const WRITE_SLICE = 8 * 1024 * 1024;

function assertId(id: string): asserts id is BlobId {
  if (!isBlobId(id)) throw new InvalidBlobIdError(String(id));
}

function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/**
 * Blobs as files under `root/ab/cdef…` (the first two hex characters fan out so no
 * folder holds more than 1/256 of the store). Writes go to `root/tmp` first, on the same
 * filesystem so the final rename is atomic: a reader, or a process that restarts after a
 * crash, never sees a partial blob under its real name.
 */
export class LocalBlobStore implements BlobStore {
  readonly root: string;
  readonly location: string;
  /** Folders known to exist, so a put does not re-create them. */
  private readonly made = new Set<string>();

  constructor(root: string) {
    this.root = resolve(root);
    this.location = this.root;
  }

  private async openFresh(tmpDir: string, tmp: string) {
    await this.ensureDir(tmpDir);
    try {
      return await open(tmp, 'wx', 0o444);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
      this.made.delete(tmpDir);
      await this.ensureDir(tmpDir);
      return await open(tmp, 'wx', 0o444);
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /** The path a blob lives at; validates the id first so no caller-supplied text reaches a path. */
  pathOf(id: BlobId): string {
    assertId(id);
    return join(this.root, id.slice(0, 2), id.slice(2));
  }

  /**
   * Announces work that relies on blobs already present (a snapshot reusing chunks):
   * gc deletes nothing while a lease is held. Returns the release function; a lease
   * left by a killed process is ignored once its process is gone.
   */
  async acquireLease(purpose: string): Promise<() => Promise<void>> {
    const dir = join(this.root, LEASE_DIR);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${purpose.replace(/[^a-z0-9-]/gi, '_')}-${process.pid}-${randomBytes(6).toString('hex')}.json`);
    await writeFile(file, JSON.stringify({ purpose, pid: process.pid, host: hostname(), since: new Date().toISOString() }));
    return () => unlink(file).catch(() => undefined);
  }

  /** Leases held by live processes; stale ones (dead process on this host) are removed. */
  async activeLeases(): Promise<{ purpose: string; pid: number; host: string; since: string }[]> {
    const dir = join(this.root, LEASE_DIR);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out = [];
    for (const name of names) {
      const file = join(dir, name);
      let info: { purpose: string; pid: number; host: string; since: string };
      try {
        info = JSON.parse(await readFile(file, 'utf8'));
      } catch {
        continue; // Being written, or gone: a live writer's lease will be readable on the next look.
      }
      if (info.host === hostname() && !processAlive(info.pid)) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      out.push(info);
    }
    return out;
  }

  /**
   * Marks a blob as just used (its mtime becomes now) and says whether it exists.
   * gc never deletes a blob used within its grace period.
   */
  async touch(id: BlobId): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.pathOf(id), now, now);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async has(id: BlobId): Promise<boolean> {
    return (await this.size(id)) !== null;
  }

  async size(id: BlobId): Promise<number | null> {
    const path = this.pathOf(id);
    try {
      const s = await stat(path);
      return s.isFile() ? s.size : null;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return null;
      throw e;
    }
  }

  async put(bytes: Uint8Array, options?: PutOptions): Promise<BlobId> {
    const id = hashBytes(bytes);
    await this.putKnown(id, bytes, options);
    return id;
  }

  async putKnown(id: BlobId, bytes: Uint8Array, options?: PutOptions): Promise<void> {
    const sync = !options?.deferSync;
    const path = this.pathOf(id);
    // Content addressing makes an existing blob with this name the same bytes (get
    // verifies). Reusing it counts as a write for gc's grace period, so a snapshot in
    // flight that reuses an old unreferenced blob never loses it to a concurrent gc.
    if (await this.touch(id)) return;
    const tmpDir = join(this.root, TMP_DIR);
    const tmp = join(tmpDir, `${randomBytes(12).toString('hex')}${TMP_SUFFIX}`);
    const dir = join(this.root, id.slice(0, 2));
    try {
      const fh = await this.openFresh(tmpDir, tmp);
      try {
        let off = 0;
        while (off < bytes.length) {
          const { bytesWritten } = await fh.write(bytes, off, Math.min(WRITE_SLICE, bytes.length - off));
          off += bytesWritten;
        }
        // Without this, a power loss after the rename can leave a named but empty or short
        // file (an unsynced batch covers that window with its marker instead).
        if (sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await this.ensureDir(dir);
      await rename(tmp, path).catch(async (e: unknown) => {
        // The fan-out folder went away since it was made (emptied by hand): make it again.
        if (errnoOf(e) !== 'ENOENT') throw e;
        this.made.delete(dir);
        await this.ensureDir(dir);
        await rename(tmp, path);
      });
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new BlobWriteError(id, this.location, errnoOf(e), { cause: e });
    }
    if (sync) await syncDir(dir);
  }

  async get(id: BlobId, options?: { verify?: boolean }): Promise<Uint8Array> {
    const path = this.pathOf(id);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') throw new BlobNotFoundError(id, this.location);
      throw e;
    }
    if (options?.verify ?? true) {
      const actual = hashBytes(bytes);
      if (actual !== id) throw new BlobCorruptError(id, id, actual, this.location);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  async *list(): AsyncIterable<BlobId> {
    let top: string[];
    try {
      top = await readdir(this.root);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return;
      throw e;
    }
    for (const prefix of top) {
      // Skips tmp/ and anything else that is not a fan-out folder.
      if (!FANOUT.test(prefix)) continue;
      let names: string[];
      try {
        names = await readdir(join(this.root, prefix));
      } catch (e) {
        const code = errnoOf(e);
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        throw e;
      }
      for (const rest of names) if (REST.test(rest)) yield `${prefix}${rest}`;
    }
  }

  /** Removes a blob; absent blobs are not an error, so gc can be re-run after a crash. */
  async delete(id: BlobId): Promise<void> {
    const path = this.pathOf(id);
    try {
      await unlink(path);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
  }

  /**
   * Removes temp files older than `olderThanMs` (by mtime), left by processes killed
   * mid-write. Keep the age well above the longest write so a live writer's file survives.
   * Returns how many were removed.
   */
  async cleanupTemp(olderThanMs: number): Promise<number> {
    const tmpDir = join(this.root, TMP_DIR);
    let names: string[];
    try {
      names = await readdir(tmpDir);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return 0;
      throw e;
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of names) {
      if (!name.endsWith(TMP_SUFFIX)) continue;
      const p = join(tmpDir, name);
      try {
        const s = await stat(p);
        if (s.isFile() && s.mtimeMs <= cutoff) {
          await unlink(p);
          removed++;
        }
      } catch (e) {
        // Another cleaner, or the writer's own rename, got there first.
        if (errnoOf(e) !== 'ENOENT') throw e;
      }
    }
    return removed;
  }
}

/** Makes the rename itself durable; platforms that cannot open or fsync a directory (Windows) skip it. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = errnoOf(e);
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR' && code !== 'ENOTSUP') throw e;
  } finally {
    await fh.close();
  }
}

const LEASE_DIR = 'leases';

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
