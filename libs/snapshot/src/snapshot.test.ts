import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.ts';
import type { BlobId } from './types.ts';
import { readTree } from './manifest.ts';
import { snapshotDir } from './snapshot.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-snap-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(base, `${what}${n++}`);

function prng(size: number, seed: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0)).update(Buffer.alloc(size));
}

/** Sets every file's mtime a minute back, out of the stat cache's racy window. */
function age(dir: string): void {
  const t = Date.now() / 1000 - 60;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) utimesSync(join(dir, name), t, t);
}

async function count(store: LocalBlobStore): Promise<number> {
  let c = 0;
  for await (const _ of store.list()) c++;
  return c;
}

/** A LocalBlobStore that counts writes and existence checks. */
class CountingStore extends LocalBlobStore {
  puts = 0;
  putKnowns = 0;
  hases = 0;
  override put(bytes: Uint8Array): Promise<BlobId> {
    this.puts++;
    return super.put(bytes);
  }
  override putKnown(id: BlobId, bytes: Uint8Array): Promise<void> {
    this.putKnowns++;
    return super.putKnown(id, bytes);
  }
  override has(id: BlobId): Promise<boolean> {
    this.hases++;
    return super.has(id);
  }
  reset(): void {
    this.puts = this.putKnowns = this.hases = 0;
  }
}

/** Sets the store's fan-out folders' mtimes back, out of the racy window the snapshot's store stamps keep. */
function ageStore(store: LocalBlobStore): void {
  const t = Date.now() / 1000 - 60;
  for (const name of readdirSync(store.root)) if (/^[0-9a-f]{2}$/.test(name)) utimesSync(join(store.root, name), t, t);
}

function makeTree(dir: string): void {
  mkdirSync(join(dir, 'sub/deeper'), { recursive: true });
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'a.txt'), 'hello');
  writeFileSync(join(dir, 'sub/b.bin'), prng(10_000, 1));
  writeFileSync(join(dir, 'sub/deeper/c'), '');
}

describe('snapshotDir', () => {
  it('gives the same id for the same content', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const d1 = fresh('d');
    const d2 = fresh('d');
    makeTree(d1);
    makeTree(d2);
    const t = Date.now() / 1000 - 60;
    for (const d of [d1, d2]) for (const f of ['a.txt', 'sub/b.bin', 'sub/deeper/c']) utimesSync(join(d, f), t, t);
    const s1 = await snapshotDir(d1, { store });
    const s2 = await snapshotDir(d2, { store });
    expect(s1.id).toBe(s2.id);
    expect(s1.files).toBe(3);
    expect(s1.bytes).toBe(5 + 10_000);
    const paths: string[] = [];
    for await (const e of readTree(s1.id, (id) => store.get(id))) paths.push(`${e.path}:${e.entry.kind}`);
    expect(paths).toEqual(['a.txt:file', 'empty:dir', 'sub/b.bin:file', 'sub/deeper/c:file']);
  });

  it('reads nothing on an unchanged re-snapshot and only the changed file after an edit', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const cacheDir = fresh('cache');
    const d = fresh('d');
    makeTree(d);
    age(d);
    const first = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(first.hashed).toBe(3);
    const again = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(again).toMatchObject({ id: first.id, hashed: 0, reused: 3 });

    writeFileSync(join(d, 'a.txt'), 'changed');
    const t = Date.now() / 1000 - 30;
    utimesSync(join(d, 'a.txt'), t, t);
    const third = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(third).toMatchObject({ hashed: 1, reused: 2 });
    expect(third.id).not.toBe(first.id);

    const forced = await snapshotDir(d, { store, statCacheDir: cacheDir, rehash: true });
    expect(forced).toMatchObject({ id: third.id, hashed: 3, reused: 0 });
  });

  it('writes no tree node on an unchanged re-snapshot and returns the same id', async () => {
    const store = new CountingStore(fresh('store'));
    const cacheDir = fresh('cache');
    const d = fresh('d');
    makeTree(d);
    symlinkSync('../a.txt', join(d, 'sub/link'));
    age(d);
    const first = await snapshotDir(d, { store, statCacheDir: cacheDir });
    ageStore(store);
    // The first re-snapshot checks the blobs (the store stamps were racy) but reuses every node.
    store.reset();
    const second = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(second).toMatchObject({ id: first.id, files: 4, bytes: first.bytes, hashed: 0, reused: 3 });
    expect([store.puts, store.putKnowns]).toEqual([0, 0]);
    // The next one takes the fast path: not even an existence check.
    store.reset();
    const third = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(third).toMatchObject({ id: first.id, files: first.files, bytes: first.bytes, hashed: 0, reused: 3 });
    expect([store.puts, store.putKnowns, store.hases]).toEqual([0, 0, 0]);
  });

  it('starts no unsynced batch when nothing is written (no marker, so no filesystem sync)', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const cacheDir = fresh('cache');
    const d = fresh('d');
    makeTree(d);
    age(d);
    await snapshotDir(d, { store, statCacheDir: cacheDir });
    const markers = join(store.root, 'unsynced');
    // The first snapshot wrote blobs, so it made (and removed) a marker in this folder.
    expect(readdirSync(markers)).toEqual([]);
    const t = Date.now() / 1000 - 60;
    utimesSync(markers, t, t);
    await snapshotDir(d, { store, statCacheDir: cacheDir });
    // Creating and removing a marker would have moved the folder's mtime.
    expect(Math.round(statSync(markers).mtimeMs / 1000)).toBe(Math.round(t));
    // A change writes blobs again, under a batch.
    writeFileSync(join(d, 'a.txt'), 'changed');
    await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(Math.round(statSync(markers).mtimeMs / 1000)).not.toBe(Math.round(t));
    expect(readdirSync(markers)).toEqual([]);
  });

  it('notices a blob gc removed even when the tree is otherwise unchanged', async () => {
    const store = new CountingStore(fresh('store'));
    const cacheDir = fresh('cache');
    const d = fresh('d');
    makeTree(d);
    age(d);
    const first = await snapshotDir(d, { store, statCacheDir: cacheDir });
    ageStore(store);
    await snapshotDir(d, { store, statCacheDir: cacheDir });
    await snapshotDir(d, { store, statCacheDir: cacheDir });
    const { hashBytes } = await import('./hash.ts');
    const hello = hashBytes(Buffer.from('hello'));
    await store.delete(hello);
    await store.delete(first.id);
    const again = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(again).toMatchObject({ id: first.id, hashed: 1, reused: 2 });
    expect(await store.has(hello)).toBe(true);
    expect(await store.has(first.id)).toBe(true);
  });

  it('rebuilds only the directories above a changed file, to the id a snapshot from scratch gives', async () => {
    const store = new CountingStore(fresh('store'));
    const cacheDir = fresh('cache');
    const d = fresh('d');
    for (const top of ['p', 'q', 'r']) {
      mkdirSync(join(d, top, 'a/b/c'), { recursive: true });
      for (const sub of ['', 'a', 'a/b', 'a/b/c']) for (let i = 0; i < 3; i++) writeFileSync(join(d, top, sub, `f${i}`), prng(100 + i, i + sub.length));
    }
    mkdirSync(join(d, 'q/empty'));
    symlinkSync('../f0', join(d, 'q/a/link'));
    age(d);
    const first = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(first.files).toBe(37);

    writeFileSync(join(d, 'q/a/b/c/f1'), 'different');
    const t = Date.now() / 1000 - 30;
    utimesSync(join(d, 'q/a/b/c/f1'), t, t);
    store.reset();
    const incremental = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(incremental).toMatchObject({ hashed: 1, reused: 35 });
    expect(incremental.id).not.toBe(first.id);
    // q/a/b/c, q/a/b, q/a, q and the root: nothing else is encoded again.
    expect(store.puts).toBe(5);

    const scratch = await snapshotDir(d, { store: new LocalBlobStore(fresh('store')), statCacheDir: fresh('cache'), rehash: true });
    expect(scratch).toMatchObject({ id: incremental.id, files: incremental.files, bytes: incremental.bytes, hashed: 36 });
    const forced = await snapshotDir(d, { store, statCacheDir: cacheDir, rehash: true });
    expect(forced.id).toBe(incremental.id);

    // A mode change alone (no content change) is seen through the directory signature.
    execFileSync('chmod', ['700', join(d, 'p/a/f2')]);
    utimesSync(join(d, 'p/a/f2'), t, t);
    const chmodded = await snapshotDir(d, { store, statCacheDir: cacheDir });
    const fromScratch = await snapshotDir(d, { store, rehash: true });
    expect(chmodded.id).toBe(fromScratch.id);
    expect(chmodded.id).not.toBe(incremental.id);
  });

  it('chunks a large file so a small insertion near its start stores at most 2 new chunks', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const d = fresh('d');
    mkdirSync(d);
    const big = prng(12 * 1024 * 1024 + 12345, 7);
    writeFileSync(join(d, 'big'), big);
    const progress: number[] = [];
    const s1 = await snapshotDir(d, { store, onProgress: (p) => progress.push(p.done) });
    expect(progress).toEqual([1]);
    let chunks: string[] = [];
    for await (const e of readTree(s1.id, (id) => store.get(id))) if (e.entry.kind === 'file') chunks = e.entry.chunks;
    expect(chunks.length).toBeGreaterThan(3);
    // Chunks concatenate back to the file.
    const back = Buffer.concat(await Promise.all(chunks.map((c) => store.get(c))));
    expect(back.equals(big)).toBe(true);

    const before = await count(store);
    const edited = Buffer.concat([big.subarray(0, 1000), prng(100, 9), big.subarray(1000)]);
    writeFileSync(join(d, 'big'), edited);
    const s2 = await snapshotDir(d, { store });
    const after = await count(store);
    // At most 2 chunks plus the one root node differ.
    expect(after - before).toBeLessThanOrEqual(3);
    expect(after - before).toBeGreaterThanOrEqual(2);
    expect(s2.bytes).toBe(edited.length);
  });

  it('gives the same id with the worker pool as in this thread, and reuses the pool\'s cache entries', async () => {
    const d = fresh('d');
    mkdirSync(join(d, 'x/y'), { recursive: true });
    for (let i = 0; i < 40; i++) writeFileSync(join(d, i % 2 ? 'x' : 'x/y', `f${i}`), prng(1 + i * 997, i));
    writeFileSync(join(d, 'big'), prng(9 * 1024 * 1024 + 77, 3));
    writeFileSync(join(d, 'empty'), '');
    symlinkSync('big', join(d, 'link'));
    age(d);
    const here = await snapshotDir(d, { store: new LocalBlobStore(fresh('store')), pool: 'never' });
    const poolStore = new LocalBlobStore(fresh('store'));
    const cacheDir = fresh('cache');
    const pooled = await snapshotDir(d, { store: poolStore, pool: 'always', statCacheDir: cacheDir });
    expect(pooled).toMatchObject({ id: here.id, files: here.files, bytes: here.bytes, hashed: 42 });
    // Every blob the tree names was written by the workers.
    for await (const e of readTree(pooled.id, (id) => poolStore.get(id))) {
      if (e.entry.kind === 'file') for (const c of e.entry.chunks) expect(await poolStore.has(c)).toBe(true);
    }
    const again = await snapshotDir(d, { store: poolStore, pool: 'always', statCacheDir: cacheDir });
    expect(again).toMatchObject({ id: here.id, hashed: 0, reused: 42 });
  });

  it('re-reads a cached file whose blob is gone from the store', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const cacheDir = fresh('cache');
    const d = fresh('d');
    makeTree(d);
    age(d);
    const first = await snapshotDir(d, { store, statCacheDir: cacheDir });
    const { hashBytes } = await import('./hash.ts');
    await store.delete(hashBytes(Buffer.from('hello')));
    const again = await snapshotDir(d, { store, statCacheDir: cacheDir });
    expect(again).toMatchObject({ id: first.id, hashed: 1, reused: 2 });
    expect(await store.has(hashBytes(Buffer.from('hello')))).toBe(true);
  });

  it('records symlinks without following them and skips FIFOs and sockets', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const d = fresh('d');
    mkdirSync(d);
    writeFileSync(join(d, 'real'), 'x');
    symlinkSync('real', join(d, 'link'));
    symlinkSync('/etc/passwd', join(d, 'outside'));
    execFileSync('mkfifo', [join(d, 'fifo')]);
    const server = createServer();
    await new Promise<void>((r) => server.listen(join(d, 'sock'), r));
    try {
      const s = await snapshotDir(d, { store });
      expect(s.skipped.map((x) => [x.path, x.kind])).toEqual([
        ['fifo', 'fifo'],
        ['sock', 'socket'],
      ]);
      const seen: Record<string, unknown> = {};
      for await (const e of readTree(s.id, (id) => store.get(id))) seen[e.path] = e.entry;
      expect(seen.link).toEqual({ kind: 'symlink', name: 'link', target: 'real' });
      expect(seen.outside).toEqual({ kind: 'symlink', name: 'outside', target: '/etc/passwd' });
      expect(s.hashed).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
