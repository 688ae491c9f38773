import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CairnError } from '@cairn/schema';
import { LocalBlobStore, processAlive } from './blob-store.ts';
import { hashBytes } from './hash.ts';

// Why batches: an fsync per blob made 20,000 small files take ~10 s here, almost all of
// it waiting on journal commits. A batch writes its blobs without fsync and syncs the
// filesystem once at the end (as git's core.fsyncMethod=batch does). The window that
// opens is a power loss or kernel crash before that sync, which can leave a blob under
// its final name empty or short. A marker file, made durable before the first blob,
// names the window; whoever opens the store next re-hashes every blob written since the
// marker and deletes the damaged ones, so a later snapshot stores them again. A killed
// process is not such a window: its bytes are in the page cache before each rename.

const MARKER_DIR = 'unsynced';
/** Clock slack when comparing blob mtimes to the marker's time. */
const SLACK_MS = 2_000;
const run = promisify(execFile);

interface Marker {
  pid: number;
  host: string;
  boot: string;
  since: number;
}

export interface UnsyncedBatch {
  /** Pass to put/putKnown: true where the batch stands in for per-blob fsync. */
  deferSync: boolean;
  /** Syncs the filesystem, then removes the marker. Call once, on success or failure. */
  commit(): Promise<void>;
}

export interface RecoveryResult {
  /** Markers left by processes that are gone. */
  markers: number;
  /** Blobs re-hashed because they were written after such a marker. */
  checked: number;
  /** Of those, blobs whose bytes did not match their name, deleted. */
  removed: string[];
}

/** Where the platform has no filesystem sync to call (Windows), blobs keep their own fsync. */
export async function beginUnsyncedBatch(store: LocalBlobStore): Promise<UnsyncedBatch> {
  if (process.platform === 'win32') return { deferSync: false, commit: async () => undefined };
  const dir = join(store.root, MARKER_DIR);
  await mkdir(dir, { recursive: true });
  const marker: Marker = { pid: process.pid, host: hostname(), boot: bootId(), since: Date.now() };
  const file = join(dir, `${process.pid}-${marker.since}-${Math.random().toString(36).slice(2, 8)}.json`);
  const fh = await open(file, 'wx');
  try {
    await fh.writeFile(JSON.stringify(marker));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncPath(dir);
  let done = false;
  return {
    deferSync: true,
    async commit() {
      if (done) return;
      done = true;
      await syncFilesystem(store.root);
      await unlink(file).catch(() => undefined);
    },
  };
}

/**
 * Repairs what a crash inside an unsynced batch can leave: for each marker whose process
 * is gone (on this host), re-hashes the blobs written since it and deletes those that no
 * longer match their name. Cheap when there is nothing to do (one readdir).
 */
export async function recoverUnsynced(store: LocalBlobStore): Promise<RecoveryResult> {
  const dir = join(store.root, MARKER_DIR);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { markers: 0, checked: 0, removed: [] };
    throw e;
  }
  const stale: { file: string; since: number }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let m: Marker;
    try {
      m = JSON.parse(await readFile(file, 'utf8')) as Marker;
    } catch {
      // A marker torn by the crash itself: its batch wrote nothing yet (the marker is synced
      // before the first blob), but to be safe treat it as covering everything it could.
      const st = await lstat(file).catch(() => null);
      if (st) stale.push({ file, since: st.mtimeMs });
      continue;
    }
    // Another host's process cannot be checked from here; its own next run recovers it.
    if (m.host !== hostname()) continue;
    if (m.boot === bootId() && processAlive(m.pid)) continue;
    stale.push({ file, since: m.since });
  }
  if (stale.length === 0) return { markers: 0, checked: 0, removed: [] };

  const since = Math.min(...stale.map((s) => s.since)) - SLACK_MS;
  let checked = 0;
  const removed: string[] = [];
  for (const prefix of await readdir(store.root)) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    const folder = join(store.root, prefix);
    // A new blob moves its folder's mtime; a folder untouched since the marker holds none.
    if ((await lstat(folder)).mtimeMs < since) continue;
    for (const rest of await readdir(folder)) {
      if (!/^[0-9a-f]{62}$/.test(rest)) continue;
      const path = join(folder, rest);
      const st = await lstat(path).catch(() => null);
      if (!st || st.mtimeMs < since) continue;
      checked++;
      const bytes = await readFile(path);
      if (hashBytes(bytes) !== prefix + rest) {
        await unlink(path);
        removed.push(prefix + rest);
      }
    }
  }
  for (const s of stale) await unlink(s.file).catch(() => undefined);
  return { markers: stale.length, checked, removed };
}

/** syncfs(2) on the store's filesystem through coreutils `sync -f`, else a full sync(2). */
async function syncFilesystem(path: string): Promise<void> {
  try {
    await run('sync', ['-f', path]);
    return;
  } catch {
    // BSD/macOS sync has no -f.
  }
  try {
    await run('sync', []);
  } catch (e) {
    throw new CairnError('STORE_DAMAGED', `could not flush the blob store at ${path} to disk (sync failed): ${(e as Error).message}`, { cause: e });
  }
}

async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the marker file itself is synced.
  } finally {
    await fh.close();
  }
}

let boot: string | undefined;
/** Changes on every reboot, so a marker from before a power loss is stale even if its pid is reused. */
function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = '';
    }
  }
  return boot;
}
