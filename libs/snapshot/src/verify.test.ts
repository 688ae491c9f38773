import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.ts';
import { hashBytes } from './hash.ts';
import { snapshotDir } from './snapshot.ts';
import { verify } from './verify.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-verify-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(base, `${what}${n++}`);

async function setup() {
  const store = new LocalBlobStore(fresh('store'));
  const src = fresh('src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha');
  writeFileSync(join(src, 'sub/copy.txt'), 'alpha');
  writeFileSync(join(src, 'sub/b.txt'), 'beta');
  writeFileSync(join(src, 'c.txt'), 'gamma');
  writeFileSync(join(src, 'empty'), '');
  const { id } = await snapshotDir(src, { store });
  return { store, id };
}

describe('verify', () => {
  it('reports nothing for a clean snapshot and checks each blob once', async () => {
    const { store, id } = await setup();
    const r = await verify([id, id], { store });
    // 2 tree nodes + 3 distinct chunks (alpha is shared).
    expect(r).toEqual({ checked: 5, corrupt: [], missing: [], unreadable: [], invalid: [] });
  });

  it('names the files of a corrupt blob and of a missing blob', async () => {
    const { store, id } = await setup();
    const alpha = hashBytes(Buffer.from('alpha'));
    const gamma = hashBytes(Buffer.from('gamma'));
    const p = store.pathOf(alpha);
    chmodSync(p, 0o644);
    const b = readFileSync(p);
    b[0] = b[0]! ^ 0x01;
    writeFileSync(p, b);
    await store.delete(gamma);

    const r = await verify([id], { store });
    expect(r.checked).toBe(5);
    expect(r.corrupt).toEqual([{ blob: alpha, kind: 'chunk', files: ['a.txt', 'sub/copy.txt'], snapshots: [id] }]);
    expect(r.missing).toEqual([{ blob: gamma, kind: 'chunk', files: ['c.txt'], snapshots: [id] }]);
  });

  it('reports a damaged tree node under its directory', async () => {
    const { store, id } = await setup();
    await store.delete(id);
    const r = await verify([id], { store });
    expect(r).toEqual({ checked: 1, corrupt: [], missing: [{ blob: id, kind: 'tree', files: ['.'], snapshots: [id] }], unreadable: [], invalid: [] });
  });
});

describe('verify, with several snapshots damaged on disk', () => {
  /** The id of the subtree `name` in tree `id`, read from the stored tree node. */
  function subtree(store: LocalBlobStore, id: string, name: string): string {
    const node = JSON.parse(readFileSync(store.pathOf(id), 'utf8')) as { entries: { name: string; id?: string }[] };
    return node.entries.find((e) => e.name === name)!.id!;
  }

  function damage(store: LocalBlobStore, id: string, how: 'flip' | 'truncate' | 'folder'): void {
    const p = store.pathOf(id);
    chmodSync(p, 0o644);
    if (how === 'flip') {
      const b = readFileSync(p);
      b[b.length >> 1]! ^= 0x20;
      writeFileSync(p, b);
    } else if (how === 'truncate') {
      writeFileSync(p, readFileSync(p).subarray(0, 3));
    } else {
      // What a botched copy or restore can leave: a folder where the blob's file was.
      rmSync(p);
      mkdirSync(p);
    }
  }

  it('reports every damaged tree and every corrupt, missing or unreadable blob, with the files and snapshots each affects', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const snap = async (files: Record<string, string>) => {
      const src = fresh('src');
      for (const [p, body] of Object.entries(files)) {
        mkdirSync(dirname(join(src, p)), { recursive: true });
        writeFileSync(join(src, p), body);
      }
      return (await snapshotDir(src, { store })).id;
    };
    const chunk = (s: string) => hashBytes(Buffer.from(s));
    const a = await snap({ 'top.txt': 'a top', 'sub/x.txt': 'a x' });
    const b = await snap({ 'top.txt': 'b top', 'sub/x.txt': 'b x', 'sub/shared.txt': 'shared' });
    const c = await snap({ 'top.txt': 'c top', 'deep/er/y.txt': 'c y' });
    const d = await snap({ 'top.txt': 'd top', 'other/shared.txt': 'shared', 'gone.txt': 'd gone' });
    // A recorded snapshot id that names intact bytes which are no tree.
    const notATree = await store.put(Buffer.from('not a tree'));
    const bSub = subtree(store, b, 'sub');
    const cDeep = subtree(store, c, 'deep');

    damage(store, a, 'flip'); // a's root: nothing of a can be reached
    damage(store, bSub, 'truncate'); // b's sub/: b's top.txt is still checked
    damage(store, cDeep, 'folder'); // c's deep/ cannot even be read
    damage(store, chunk('shared'), 'flip'); // reached through d (b's sub/ is lost)
    damage(store, chunk('b top'), 'truncate');
    await store.delete(chunk('d gone'));

    const r = await verify([a, b, c, d, notATree], { store });
    const sorted = <T extends { blob: string }>(list: T[]) => [...list].sort((x, y) => (x.blob < y.blob ? -1 : 1));
    expect(r.corrupt).toEqual(
      sorted([
        { blob: a, kind: 'tree', files: ['.'], snapshots: [a] },
        { blob: bSub, kind: 'tree', files: ['sub'], snapshots: [b] },
        { blob: chunk('shared'), kind: 'chunk', files: ['other/shared.txt'], snapshots: [d] },
        { blob: chunk('b top'), kind: 'chunk', files: ['top.txt'], snapshots: [b] },
      ]),
    );
    expect(r.missing).toEqual([{ blob: chunk('d gone'), kind: 'chunk', files: ['gone.txt'], snapshots: [d] }]);
    expect(r.unreadable).toEqual([{ blob: cDeep, kind: 'tree', files: ['deep'], snapshots: [c], reason: expect.stringMatching(/^EISDIR/) }]);
    expect(r.invalid).toEqual([{ blob: notATree, kind: 'tree', files: ['.'], snapshots: [notATree], reason: expect.stringMatching(/not UTF-8 JSON|tree node/) }]);
    // Every blob that could be reached was read once: 5 roots, 3 subtrees (b's sub/, c's
    // deep/, d's other/) and 5 chunks (b top, c top, d top, shared, d gone); nothing under a damaged tree.
    expect(r.checked).toBe(5 + 3 + 5);
  });

  it('names every snapshot a shared damaged blob belongs to, and a subtree shared by two snapshots once', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const src = fresh('src');
    mkdirSync(join(src, 'common'), { recursive: true });
    writeFileSync(join(src, 'common/data.csv'), 'same in both');
    writeFileSync(join(src, 'v.txt'), 'one');
    const one = (await snapshotDir(src, { store })).id;
    writeFileSync(join(src, 'v.txt'), 'two');
    const two = (await snapshotDir(src, { store })).id;
    const common = subtree(store, one, 'common');
    expect(subtree(store, two, 'common')).toBe(common);
    damage(store, common, 'flip');
    const r = await verify([one, two], { store });
    expect(r.corrupt).toEqual([{ blob: common, kind: 'tree', files: ['common'], snapshots: [one, two].sort() }]);
    expect([r.missing, r.unreadable, r.invalid]).toEqual([[], [], []]);
  });
});
