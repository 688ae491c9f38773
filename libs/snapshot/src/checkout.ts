import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, rename, symlink, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError } from '@cairn/schema';
import { BlobCorruptError, ManifestError, UnsafePathError } from './errors.ts';
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
        let written = 0;
        for (const c of entry.chunks) {
          let bytes: Uint8Array;
          try {
            bytes = await store.get(c);
          } catch (e) {
            if (e instanceof BlobCorruptError) throw new CheckoutBlobCorruptError(rel, e);
            throw e;
          }
          let off = 0;
          while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
          written += bytes.length;
        }
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
