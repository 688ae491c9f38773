import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CairnError } from '@cairn/schema';
import {
  buildTree,
  compareNames,
  decodeTree,
  diffTrees,
  encodeTree,
  readTree,
  symlinkEscapes,
  type BuildInput,
  type ReadEntry,
} from './manifest.ts';
import type { BlobId, FileEntry, SymlinkEntry, TreeNode } from './types.ts';

/** In-memory store; sha256 stands in for BLAKE3 here, the tree code never hashes itself. */
function memStore() {
  const blobs = new Map<BlobId, Uint8Array>();
  let gets = 0;
  const getIds: BlobId[] = [];
  return {
    blobs,
    get gets() {
      return gets;
    },
    getIds,
    put: async (bytes: Uint8Array): Promise<BlobId> => {
      const id = createHash('sha256').update(bytes).digest('hex');
      blobs.set(id, bytes);
      return id;
    },
    get: async (id: BlobId): Promise<Uint8Array> => {
      gets++;
      getIds.push(id);
      const b = blobs.get(id);
      if (!b) throw new Error(`missing ${id}`);
      return b;
    },
  };
}

const H = (c: string) => c.repeat(64);
const file = (size: number, chunk = 'a', extra: Partial<FileEntry> = {}): FileEntry => ({
  kind: 'file',
  name: 'ignored',
  mode: 0o644,
  size,
  mtimeMs: 1_700_000_000_000,
  chunks: size === 0 ? [] : [H(chunk)],
  ...extra,
});
const link = (target: string): SymlinkEntry => ({ kind: 'symlink', name: 'ignored', target });

async function collect(it: AsyncIterable<ReadEntry>): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const enc = (o: unknown) => Buffer.from(JSON.stringify(o));
function rejects(bytes: Uint8Array, why?: RegExp): void {
  let err: unknown;
  try {
    decodeTree(bytes);
  } catch (e) {
    err = e;
  }
  expect(err, `accepted ${Buffer.from(bytes).toString()}`).toBeDefined();
  expect((err as CairnError).code).toBe('INVALID_INPUT');
  if (why) expect((err as Error).message).toMatch(why);
}

describe('encodeTree / decodeTree', () => {
  const node: TreeNode = {
    version: 1,
    entries: [
      { kind: 'dir', name: 'd', id: H('b'), files: 2, bytes: 10 },
      { ...file(5), name: 'f' },
      { kind: 'symlink', name: 'l', target: '../x' },
    ],
  };

  it('is deterministic, compact and round-trips', () => {
    const bytes = encodeTree(node);
    expect(Buffer.from(bytes).toString()).toBe(
      `{"version":1,"entries":[{"kind":"dir","name":"d","id":"${H('b')}","files":2,"bytes":10},` +
        `{"kind":"file","name":"f","mode":420,"size":5,"mtimeMs":1700000000000,"chunks":["${H('a')}"]},` +
        `{"kind":"symlink","name":"l","target":"../x"}]}`,
    );
    expect(decodeTree(bytes)).toEqual(node);
    // Key order of the caller's objects does not leak into the bytes.
    const shuffled = { entries: node.entries.map((e) => Object.fromEntries(Object.entries(e).reverse())), version: 1 } as unknown as TreeNode;
    expect(Buffer.from(encodeTree(shuffled))).toEqual(Buffer.from(bytes));
  });

  it('orders by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF61 sorts after U+1F600 in UTF-16 (0xFF61 > 0xD83D) but before it in UTF-8.
    expect('\uff61' > '😀').toBe(true);
    expect(compareNames('\uff61', '😀')).toBeLessThan(0);
    const ok: TreeNode = { version: 1, entries: [{ ...file(0), name: '\uff61' }, { ...file(0), name: '😀' }] };
    expect(decodeTree(encodeTree(ok))).toEqual(ok);
    expect(() => encodeTree({ version: 1, entries: [...ok.entries].reverse() })).toThrow(/not sorted/);
  });

  it('accepts an empty directory node', () => {
    expect(decodeTree(enc({ version: 1, entries: [] }))).toEqual({ version: 1, entries: [] });
  });

  const good = { kind: 'file', name: 'f', mode: 420, size: 1, mtimeMs: 0, chunks: [H('a')] };
  const wrap = (...entries: unknown[]) => enc({ version: 1, entries });

  it.each([
    ['absolute name', wrap({ ...good, name: '/etc/passwd' }), /'\/'/],
    ['dotdot name', wrap({ ...good, name: '..' }), /'\.\.'/],
    ['dot name', wrap({ ...good, name: '.' }), /'\.'/],
    ['empty name', wrap({ ...good, name: '' }), /empty/],
    ['nested name', wrap({ ...good, name: 'a/b' }), /'\/'/],
    ['control char', wrap({ ...good, name: 'a\u0007' }), /control/],
    ['backslash', wrap({ ...good, name: '..\\..\\x' }), /backslash/],
    ['duplicate', wrap(good, good), /duplicate/],
    ['unsorted', wrap({ ...good, name: 'b' }, { ...good, name: 'a' }), /not sorted/],
    ['unknown kind', wrap({ ...good, kind: 'device' }), undefined],
    ['short id', wrap({ ...good, chunks: ['abc'] }), /64/],
    ['uppercase id', wrap({ ...good, chunks: [H('A')] }), /64/],
    ['negative size', wrap({ ...good, size: -1 }), undefined],
    ['fractional size', wrap({ ...good, size: 1.5 }), undefined],
    ['string size', wrap({ ...good, size: '1' }), undefined],
    ['size without chunks', wrap({ ...good, chunks: [] }), /chunks/],
    ['empty with chunks', wrap({ ...good, size: 0 }), /chunks/],
    ['extra key', wrap({ ...good, evil: 1 }), undefined],
    ['proto key', Buffer.from(`{"version":1,"entries":[],"__proto__":{"x":1}}`), undefined],
    ['wrong version', enc({ version: 2, entries: [] }), undefined],
    ['not json', Buffer.from('{'), /JSON/],
    ['invalid utf8', Buffer.from([0x7b, 0xff, 0x7d]), /UTF-8/],
    ['whitespace', Buffer.from('{"version":1, "entries":[]}'), /canonical/],
    ['key order', Buffer.from('{"entries":[],"version":1}'), /canonical/],
    ['duplicate key', Buffer.from('{"version":1,"entries":[{"kind":"dir","name":"x","id":"' + H('a') + '","files":0,"bytes":0}],"entries":[]}'), /canonical/],
    ['symlink NUL', wrap({ kind: 'symlink', name: 'l', target: 'a\0' }), /NUL/],
    ['dir bad totals', wrap({ kind: 'dir', name: 'd', id: H('a'), files: -1, bytes: 0 }), undefined],
    ['array root', enc([]), undefined],
    ['null', Buffer.from('null'), undefined],
  ])('rejects %s', (_what, bytes, why) => rejects(bytes, why));

  it('rejects random mutations of a valid node (property)', () => {
    const bytes = Buffer.from(encodeTree(node));
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (pos, delta) => {
        const m = Buffer.from(bytes);
        m[pos] = (m[pos]! + delta) & 0xff;
        try {
          const d = decodeTree(m);
          // A mutation that still decodes must be some other canonical node.
          expect(Buffer.from(encodeTree(d))).toEqual(m);
        } catch (e) {
          expect((e as CairnError).code).toBe('INVALID_INPUT');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('symlinkEscapes', () => {
  it.each([
    ['', 'a', false],
    ['', './a/b', false],
    ['', '../a', true],
    ['', '/etc/passwd', true],
    ['d', '../a', false],
    ['d', '../../a', true],
    ['d/e', '../../x', false],
    ['d/e', '../../../x', true],
    ['d', 'sub/../x', true], // conservative: 'sub' may itself be a link
    ['d', '', true],
    ['d', '.', false],
  ])('in %j, target %j escapes: %s', (dir, target, escapes) => {
    expect(symlinkEscapes(dir, target)).toBe(escapes);
  });
});

describe('buildTree / readTree', () => {
  it('builds nested nodes with totals and reads them back in order', async () => {
    const s = memStore();
    const input: BuildInput[] = [
      { path: 'b/x.bin', entry: file(3) },
      { path: 'a.txt', entry: file(0) },
      { path: 'b/c/deep', entry: file(7, 'c') },
      { path: 'b/link', entry: link('../a.txt') },
    ];
    const r = await buildTree(input, s.put, { dirs: ['empty/inner', 'b'] });
    expect(r).toMatchObject({ files: 4, bytes: 10 });
    expect(s.blobs.size).toBe(5); // root, b, b/c, empty, empty/inner
    const out = await collect(readTree(r.rootId, s.get));
    expect(out.map((e) => [e.path, e.entry.kind])).toEqual([
      ['a.txt', 'file'],
      ['b/c/deep', 'file'],
      ['b/link', 'symlink'],
      ['b/x.bin', 'file'],
      ['empty/inner', 'dir'],
    ]);
    expect(out[2]!.entry).toEqual({ kind: 'symlink', name: 'link', target: '../a.txt' });
    const root = decodeTree(s.blobs.get(r.rootId)!);
    expect(root.entries.find((e) => e.name === 'b')).toMatchObject({ kind: 'dir', files: 3, bytes: 10 });
  });

  it('is independent of input order and normalises paths', async () => {
    const s = memStore();
    const a = await buildTree([{ path: 'x/y', entry: file(1) }, { path: 'z', entry: file(2, 'b') }], s.put);
    const b = await buildTree([{ path: 'z', entry: file(2, 'b') }, { path: './x//y', entry: file(1) }], s.put);
    expect(a.rootId).toBe(b.rootId);
  });

  it('stores an empty tree as a root with no entries', async () => {
    const s = memStore();
    const r = await buildTree([], s.put);
    expect(r).toMatchObject({ files: 0, bytes: 0 });
    expect(Buffer.from(s.blobs.get(r.rootId)!).toString()).toBe('{"version":1,"entries":[]}');
    expect(await collect(readTree(r.rootId, s.get))).toEqual([]);
  });

  it.each([
    ['escape', [{ path: '../x', entry: file(1) }]],
    ['absolute', [{ path: '/x', entry: file(1) }]],
    ['duplicate', [{ path: 'a', entry: file(1) }, { path: './a', entry: file(1) }]],
    ['file and dir', [{ path: 'a', entry: file(1) }, { path: 'a/b', entry: file(1) }]],
    ['bad entry late in the list', [{ path: 'a/ok', entry: file(1) }, { path: 'z/bad', entry: file(1, 'a', { chunks: [] }) }]],
  ])('refuses %s before storing anything', async (_what, input) => {
    const s = memStore();
    await expect(buildTree(input as BuildInput[], s.put)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(s.blobs.size).toBe(0);
  });

  it('refuses a hostile node met while reading, and lying totals', async () => {
    const s = memStore();
    const evil = await s.put(enc({ version: 1, entries: [{ kind: 'file', name: '..', mode: 420, size: 0, mtimeMs: 0, chunks: [] }] }));
    const root = await s.put(encodeTree({ version: 1, entries: [{ kind: 'dir', name: 'd', id: evil, files: 1, bytes: 0 }] }));
    await expect(collect(readTree(root, s.get))).rejects.toMatchObject({ code: 'INVALID_INPUT' });

    const child = await s.put(encodeTree({ version: 1, entries: [{ ...file(4), name: 'f' }] }));
    const liar = await s.put(encodeTree({ version: 1, entries: [{ kind: 'dir', name: 'd', id: child, files: 1, bytes: 1 }] }));
    await expect(collect(readTree(liar, s.get))).rejects.toThrow(/claims/);
  });

  it('round-trips arbitrary trees (property)', async () => {
    const seg = fc.constantFrom('a', 'b', 'a-b', 'é', '\uff61', '😀', 'z.txt');
    const inputs = fc.uniqueArray(fc.array(seg, { minLength: 1, maxLength: 4 }), {
      maxLength: 30,
      selector: (p) => p.join('/'),
    });
    await fc.assert(
      fc.asyncProperty(inputs, async (paths) => {
        // Drop paths that are a prefix of another: those are directory/file conflicts.
        const keep = paths.filter((p) => !paths.some((q) => q.length > p.length && p.every((x, i) => q[i] === x)));
        const files = keep.map((p, i) => ({ path: p.join('/'), entry: file(i, 'a') }));
        const s = memStore();
        const r = await buildTree(files, s.put);
        const got = await collect(readTree(r.rootId, s.get));
        expect(got.map((g) => g.path).sort()).toEqual(files.map((f) => f.path).sort());
        expect(r.bytes).toBe(files.reduce((n, f) => n + f.entry.size, 0));
      }),
      { numRuns: 200 },
    );
  });
});

describe('diffTrees', () => {
  async function fixture() {
    const s = memStore();
    const big: BuildInput[] = Array.from({ length: 50 }, (_, i) => ({ path: `frozen/sub${i % 5}/f${i}`, entry: file(i + 1) }));
    const base: BuildInput[] = [
      ...big,
      { path: 'live/a', entry: file(1) },
      { path: 'live/b', entry: file(2) },
      { path: 'live/gone/x', entry: file(9) },
      { path: 'link', entry: link('live/a') },
      { path: 'swap', entry: file(4) },
      { path: 'touched', entry: file(5) },
    ];
    const next: BuildInput[] = [
      ...big,
      { path: 'live/a', entry: file(1) },
      { path: 'live/b', entry: file(20, 'e') },
      { path: 'live/new', entry: file(6) },
      { path: 'link', entry: link('live/b') },
      { path: 'swap/now-a-dir', entry: file(3) },
      { path: 'touched', entry: file(5, 'a', { mtimeMs: 1 }) },
    ];
    const a = await buildTree(base, s.put);
    const b = await buildTree(next, s.put);
    return { s, a: a.rootId, b: b.rootId };
  }

  it('reports added, removed and modified paths with sizes', async () => {
    const { s, a, b } = await fixture();
    const d = await diffTrees(a, b, s.get);
    expect(d.added).toEqual([
      { path: 'live/new', kind: 'file', size: 6 },
      { path: 'swap/now-a-dir', kind: 'file', size: 3 },
    ]);
    expect(d.removed).toEqual([
      { path: 'live/gone/x', kind: 'file', size: 9 },
      { path: 'swap', kind: 'file', size: 4 },
    ]);
    expect(d.modified).toEqual([
      { path: 'link', oldKind: 'symlink', newKind: 'symlink', oldSize: 6, newSize: 6 },
      { path: 'live/b', oldKind: 'file', newKind: 'file', oldSize: 2, newSize: 20 },
    ]);
  });

  it('never reads an unchanged subtree', async () => {
    const { s, a, b } = await fixture();
    const frozen = decodeTree(s.blobs.get(a)!).entries.find((e) => e.name === 'frozen');
    expect(frozen?.kind).toBe('dir');
    await diffTrees(a, b, s.get);
    // Two roots, two 'live' nodes, 'live/gone' (expanded as removed), 'swap' (new dir).
    expect(s.gets).toBe(6);
    expect(s.getIds).not.toContain((frozen as { id: string }).id);
    const before = s.gets;
    expect(await diffTrees(a, a, s.get)).toEqual({ added: [], removed: [], modified: [] });
    expect(s.gets).toBe(before);
  });

  it('can collapse one-sided directories to their totals without reading them', async () => {
    const s = memStore();
    const a = await buildTree([{ path: 'keep', entry: file(1) }], s.put);
    const b = await buildTree(
      [{ path: 'keep', entry: file(1) }, ...Array.from({ length: 10 }, (_, i) => ({ path: `new/d${i}/f`, entry: file(10) }))],
      s.put,
    );
    const d = await diffTrees(a.rootId, b.rootId, s.get, { collapseDirs: true });
    expect(d.added).toEqual([{ path: 'new', kind: 'dir', size: 100, files: 10 }]);
    expect(s.gets).toBe(2);
  });
});
