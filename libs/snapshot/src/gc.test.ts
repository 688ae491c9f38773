import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobWriteError } from './errors.ts';
import { LocalBlobStore } from './blob-store.ts';
import { gc, GcAbortedError, GcBusyError, type GcResult } from './gc.ts';
import { hashBytes } from './hash.ts';
import { snapshotDir } from './snapshot.ts';
import type { BlobId } from './types.ts';
import { verify } from './verify.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-gc-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(base, `${what}${n++}`);
const HOUR = 60 * 60 * 1000;

function prng(size: number, seed: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0)).update(Buffer.alloc(size));
}

/** Backdates every file in the store (blobs and temp files) by `ms`, past the grace period. */
function age(store: LocalBlobStore, ms = HOUR): void {
  const t = (Date.now() - ms) / 1000;
  for (const name of readdirSync(store.root, { recursive: true }) as string[]) utimesSync(join(store.root, name), t, t);
}

async function listAll(store: LocalBlobStore): Promise<BlobId[]> {
  const out: BlobId[] = [];
  for await (const id of store.list()) out.push(id);
  return out.sort();
}

function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
}

const id = (s: string) => hashBytes(Buffer.from(s));

/** Two snapshots sharing a chunk, a model blob, and a stray blob; all aged past the grace period. */
async function setup() {
  const store = new LocalBlobStore(fresh('store'));
  const a = fresh('a');
  writeTree(a, { 'x.txt': 'alpha', 'sub/shared.txt': 'shared', 'sub/deep/y.txt': 'only-a' });
  const b = fresh('b');
  writeTree(b, { 'shared.txt': 'shared', 'dir/z.txt': 'only-b' });
  const snapA = await snapshotDir(a, { store });
  const snapB = await snapshotDir(b, { store });
  const model = await store.put(Buffer.from('model weights'));
  const stray = await store.put(Buffer.from('stray'));
  age(store);
  return { store, snapA: snapA.id, snapB: snapB.id, model, stray };
}

describe('gc', () => {
  it('removes unreachable blobs and keeps everything the roots reach, shared chunks included', async () => {
    const { store, snapA, snapB, model, stray } = await setup();
    const before = await listAll(store);
    // Blobs only snapshot B holds: its two tree nodes and its own chunk.
    const onlyB = before.filter((x) => ![snapA, model, stray].includes(x)).length;
    expect(onlyB).toBeGreaterThan(3);

    const r = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }, { kind: 'blob', id: model }] });

    const after = await listAll(store);
    expect(after).toContain(snapA);
    expect(after).toContain(model);
    expect(after).toContain(id('shared'));
    expect(after).toContain(id('alpha'));
    expect(after).toContain(id('only-a'));
    expect(after).not.toContain(snapB);
    expect(after).not.toContain(id('only-b'));
    expect(after).not.toContain(stray);
    expect(r.removed).toEqual(before.filter((x) => !after.includes(x)));
    expect(r.removed).toContain(stray);
    expect(r.scanned).toBe(before.length);
    expect(r.kept).toBe(after.length);
    // 3 tree nodes + 3 chunks of A, plus the model.
    expect(r.reachable).toBe(7);
    expect(r.missing).toEqual([]);
    expect(r.fresh).toBe(0);
    expect(r.dryRun).toBe(false);
    expect(r.removedBytes).toBeGreaterThanOrEqual(Buffer.byteLength('stray') + Buffer.byteLength('only-b'));
    expect(await verify([snapA], { store })).toMatchObject({ corrupt: [], missing: [] });

    // A second run finds nothing left to do.
    const again = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }, { kind: 'blob', id: model }] });
    expect(again.removed).toEqual([]);
    expect(again.kept).toBe(after.length);
  });

  it('keeps blobs reachable from several roots, each walked once', async () => {
    const { store, snapA, snapB, model, stray } = await setup();
    const r = await gc({
      store,
      roots: [
        { kind: 'snapshot', id: snapA },
        { kind: 'snapshot', id: snapB },
        { kind: 'snapshot', id: snapA },
        { kind: 'blob', id: model },
      ],
    });
    expect(r.removed).toEqual([stray]);
    expect(r.removedBytes).toBe(5);
    expect(await verify([snapA, snapB], { store })).toMatchObject({ corrupt: [], missing: [] });
  });

  it('in a dry run reports what it would remove and deletes nothing', async () => {
    const { store, snapA } = await setup();
    const before = await listAll(store);
    const tmp = join(store.root, 'tmp', 'dead.tmp');
    writeFileSync(tmp, 'partial');
    age(store);

    const dry = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }], dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.removed.length).toBeGreaterThan(0);
    expect(dry.tempRemoved).toBe(0);
    expect(await listAll(store)).toEqual(before);
    expect(existsSync(tmp)).toBe(true);

    const real = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }] });
    expect(real.removed).toEqual(dry.removed);
    expect(real.removedBytes).toBe(dry.removedBytes);
    expect(real.tempRemoved).toBe(1);
    expect(existsSync(tmp)).toBe(false);
  });

  it('keeps a fresh unreferenced blob for the grace period', async () => {
    const { store, snapA, stray } = await setup();
    const newcomer = await store.put(Buffer.from('written a moment ago'));
    const r = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }] });
    expect(r.removed).toContain(stray);
    expect(r.removed).not.toContain(newcomer);
    expect(r.fresh).toBe(1);
    expect(await store.has(newcomer)).toBe(true);

    // Just inside a custom grace period: still kept; past it: removed.
    const t = (Date.now() - 30_000) / 1000;
    utimesSync(store.pathOf(newcomer), t, t);
    expect((await gc({ store, roots: [{ kind: 'snapshot', id: snapA }], graceMs: 60_000 })).removed).toEqual([]);
    expect((await gc({ store, roots: [{ kind: 'snapshot', id: snapA }], graceMs: 10_000 })).removed).toEqual([newcomer]);
  });

  it('removes old temp files and keeps a live writer’s', async () => {
    const { store, snapA } = await setup();
    const dead = join(store.root, 'tmp', 'dead.tmp');
    writeFileSync(dead, 'x');
    const t = (Date.now() - HOUR) / 1000;
    utimesSync(dead, t, t);
    const live = join(store.root, 'tmp', 'live.tmp');
    writeFileSync(live, 'y');
    const r = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }] });
    expect(r.tempRemoved).toBe(1);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('aborts without deleting anything when a snapshot root is missing', async () => {
    const { store, snapA, snapB } = await setup();
    await store.delete(snapB);
    const before = await listAll(store);
    const run = gc({ store, roots: [{ kind: 'snapshot', id: snapA }, { kind: 'snapshot', id: snapB }] });
    await expect(run).rejects.toThrow(GcAbortedError);
    await expect(run).rejects.toThrow(/nothing was deleted.*snapshot [0-9a-f]{64} cannot be read completely: its root node.*not found/);
    expect(await listAll(store)).toEqual(before);
    // A dry run refuses too: its report would be wrong.
    await expect(gc({ store, roots: [{ kind: 'snapshot', id: snapB }], dryRun: true })).rejects.toThrow(GcAbortedError);
  });

  it('aborts when a node deep in a snapshot is missing or corrupt', async () => {
    const { store, snapA } = await setup();
    const sub = (await listAll(store)).find((x) => {
      const bytes = readFileSync(store.pathOf(x), 'utf8');
      return bytes.includes('"name":"deep"');
    })!;
    expect(sub).toBeDefined();
    const before = await listAll(store);

    // Corrupt: one flipped byte.
    const p = store.pathOf(sub);
    chmodSync(p, 0o644);
    const bytes = readFileSync(p);
    writeFileSync(p, Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.from('!')]));
    await expect(gc({ store, roots: [{ kind: 'snapshot', id: snapA }] })).rejects.toThrow(/node of "sub".*corrupt/);
    expect(await listAll(store)).toEqual(before);

    // Missing.
    await store.delete(sub);
    await expect(gc({ store, roots: [{ kind: 'snapshot', id: snapA }] })).rejects.toThrow(/node of "sub".*not found/);
    expect(await listAll(store)).toEqual(before.filter((x) => x !== sub));
  });

  it('aborts when a snapshot root is not a tree node', async () => {
    const { store, model } = await setup();
    const before = await listAll(store);
    await expect(gc({ store, roots: [{ kind: 'snapshot', id: model }] })).rejects.toThrow(/cannot be read completely.*not UTF-8 JSON/);
    expect(await listAll(store)).toEqual(before);
  });

  it('reports a missing chunk or blob root without aborting (its reachability is known)', async () => {
    const { store, snapA, model, stray } = await setup();
    await store.delete(id('alpha'));
    await store.delete(model);
    const r = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }, { kind: 'blob', id: model }] });
    expect(r.missing).toEqual([id('alpha'), model].sort());
    expect(r.removed).toContain(stray);
  });

  it('refuses bad roots and options before touching anything', async () => {
    const { store, snapA } = await setup();
    const before = await listAll(store);
    await expect(gc({ store, roots: [] })).rejects.toThrow(/no roots given/);
    await expect(gc({ store, roots: [{ kind: 'blob', id: 'nope' }] })).rejects.toThrow(/invalid blob id/);
    await expect(gc({ store, roots: [{ kind: 'tree', id: snapA } as never] })).rejects.toThrow(/unknown kind "tree"/);
    await expect(gc({ store, roots: [{ kind: 'snapshot', id: snapA }], graceMs: -1 })).rejects.toThrow(RangeError);
    expect(await listAll(store)).toEqual(before);
    // Explicitly empty: everything old goes.
    const r = await gc({ store, roots: [], allowEmptyRoots: true });
    expect(r.removed).toEqual(before);
    expect(await listAll(store)).toEqual([]);
  });

  it('works on another store through blobInfo', async () => {
    const { store, snapA, stray } = await setup();
    const calls: BlobId[] = [];
    const other = {
      location: store.location,
      has: (x: BlobId) => store.has(x),
      put: (b: Uint8Array) => store.put(b),
      putKnown: (x: BlobId, b: Uint8Array) => store.putKnown(x, b),
      get: (x: BlobId, o?: { verify?: boolean }) => store.get(x, o),
      list: () => store.list(),
      delete: (x: BlobId) => store.delete(x),
      size: (x: BlobId) => store.size(x),
      touch: (x: BlobId) => store.touch(x),
      blobInfo: async (x: BlobId) => {
        calls.push(x);
        const s = statSync(store.pathOf(x), { throwIfNoEntry: false });
        return s ? { size: s.size, mtimeMs: s.mtimeMs } : null;
      },
    };
    const r = await gc({ store: other, roots: [{ kind: 'snapshot', id: snapA }] });
    expect(r.removed).toContain(stray);
    expect(calls.length).toBe(r.removed.length + r.fresh);
    expect(r.tempRemoved).toBe(0);
  });

  describe('with a snapshot written at the same time', () => {
    /** An old snapshot and garbage, aged; then a largish new tree (multi-chunk files included) not yet snapshotted. */
    async function concurrentSetup() {
      const store = new LocalBlobStore(fresh('store'));
      const old = fresh('old');
      writeTree(old, { 'keep.txt': 'kept by the old snapshot', 'd/k2.bin': prng(50_000, 9) });
      const oldSnap = await snapshotDir(old, { store });
      const garbage: BlobId[] = [];
      for (let i = 0; i < 20; i++) garbage.push(await store.put(prng(3_000, 100 + i)));
      age(store);

      const src = fresh('big');
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 240; i++) files[`part-${i % 8}/f${i}.bin`] = prng(16_000 + i, 1 + (i % 200));
      files['big/a.bin'] = prng(9 * 1024 * 1024, 201);
      files['big/b.bin'] = prng(6 * 1024 * 1024, 202);
      writeTree(src, files);
      return { store, oldSnap: oldSnap.id, garbage: garbage.sort(), src };
    }

    /** Starts gc from inside the snapshot's progress callback, once `after` files are stored but long before its root exists. */
    async function race(graceMs: number | undefined, options: { leases: boolean } = { leases: false }) {
      const { store, oldSnap, garbage, src } = await concurrentSetup();
      // Without leases (a store that cannot hold them), only the grace period protects the
      // snapshot in flight: gc then sees the same blobs but not the snapshot's lease.
      const gcStore: LocalBlobStore = options.leases ? store : Object.assign(Object.create(store) as LocalBlobStore, { activeLeases: undefined });
      let gcRun: Promise<GcResult> | undefined;
      let snapshotDone = false;
      let gcStartedBeforeRoot = false;
      const snapshot = snapshotDir(src, {
        store,
        onProgress: (p) => {
          if (!gcRun && p.done >= 120) {
            gcStartedBeforeRoot = !snapshotDone;
            gcRun = gc({ store: gcStore, roots: [{ kind: 'snapshot', id: oldSnap }], ...(graceMs === undefined ? {} : { graceMs }) });
            gcRun.catch(() => {});
          }
        },
      }).finally(() => {
        snapshotDone = true;
      });
      const snap = await snapshot.catch((e: unknown) => e);
      expect(gcRun).toBeDefined();
      const r = await gcRun!.catch((e: unknown) => e);
      return { store, oldSnap, garbage, snap, r: r as GcResult, gcError: r instanceof Error ? r : null, gcStartedBeforeRoot };
    }

    it('stops gc while the snapshot holds its lease, and deletes nothing', async () => {
      const { store, oldSnap, garbage, snap, gcError } = await race(0, { leases: true });
      expect(gcError).toBeInstanceOf(GcBusyError);
      if (snap instanceof Error) throw snap;
      const s = snap as Awaited<ReturnType<typeof snapshotDir>>;
      expect(await verify([s.id], { store })).toMatchObject({ corrupt: [], missing: [] });
      expect(await listAll(store)).toEqual(expect.arrayContaining(garbage));
      // With the snapshot done, its lease is gone and gc runs.
      const later = await gc({ store, roots: [{ kind: 'snapshot', id: oldSnap }, { kind: 'snapshot', id: s.id }] });
      expect(later.removed).toEqual(garbage);
    });

    it('keeps every blob of the snapshot in flight under the default grace period', async () => {
      const { store, oldSnap, garbage, snap, r, gcStartedBeforeRoot } = await race(undefined);
      expect(gcStartedBeforeRoot).toBe(true);
      if (snap instanceof Error) throw snap;
      const s = snap as Awaited<ReturnType<typeof snapshotDir>>;
      expect(s.files).toBe(242);
      // gc saw the new snapshot's unreferenced chunks and kept them for their age alone.
      expect(r.fresh).toBeGreaterThan(0);
      // Exactly the old garbage went.
      expect(r.removed).toEqual(garbage);
      expect(await verify([s.id], { store })).toMatchObject({ corrupt: [], missing: [] });
      expect(await verify([oldSnap], { store })).toMatchObject({ corrupt: [], missing: [] });

      // Once the new snapshot is a root, a later gc with no grace keeps it all too.
      const later = await gc({ store, roots: [{ kind: 'snapshot', id: oldSnap }, { kind: 'snapshot', id: s.id }], graceMs: 0 });
      expect(later.removed).toEqual([]);
      expect(await verify([s.id], { store })).toMatchObject({ corrupt: [], missing: [] });
    });

    it('without a grace period damages the snapshot in flight (why the grace rule exists)', async () => {
      const { store, snap, r } = await race(0);
      expect(r.removed.length).toBeGreaterThan(20);
      if (snap instanceof Error) {
        // gc removed a temp file under a live write.
        expect(snap).toBeInstanceOf(BlobWriteError);
      } else {
        const s = snap as Awaited<ReturnType<typeof snapshotDir>>;
        expect((await verify([s.id], { store })).missing.length).toBeGreaterThan(0);
      }
    });
  });
});

describe('gc and snapshot leases', () => {
  it('deletes nothing while a snapshot holds a lease, and a snapshot releases its lease', async () => {
    const { store, snapA, snapB, model, stray } = await setup();
    expect(await store.activeLeases()).toEqual([]);
    const release = await store.acquireLease('snapshot');
    try {
      const err = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }, { kind: 'snapshot', id: snapB }, { kind: 'blob', id: model }] }).catch((e) => e);
      expect(err).toBeInstanceOf(GcBusyError);
      expect((err as GcBusyError).message).toMatch(/snapshot is running \(process \d+/);
      expect(await listAll(store)).toContain(stray);
    } finally {
      await release();
    }
    const r = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }, { kind: 'snapshot', id: snapB }, { kind: 'blob', id: model }] });
    expect(r.removed).toEqual([stray]);
  });

  it('ignores a lease left by a process that is gone', async () => {
    const { store, snapA, snapB, model, stray } = await setup();
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
    mkdirSync(join(store.root, 'leases'), { recursive: true });
    writeFileSync(join(store.root, 'leases', `snapshot-${dead}-x.json`), JSON.stringify({ purpose: 'snapshot', pid: dead, host: hostname(), since: 'then' }));
    const r = await gc({ store, roots: [{ kind: 'snapshot', id: snapA }, { kind: 'snapshot', id: snapB }, { kind: 'blob', id: model }] });
    expect(r.removed).toEqual([stray]);
    expect(readdirSync(join(store.root, 'leases'))).toEqual([]);
  });
});
