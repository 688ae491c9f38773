import { createCipheriv } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.ts';
import { checkout } from './checkout.ts';
import { BlobCorruptError, BlobNotFoundError, UnsafePathError } from './errors.ts';
import { buildTree, readTree } from './manifest.ts';
import type { BlobId, BlobStore } from './types.ts';
import { snapshotDir } from './snapshot.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-checkout-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(base, `${what}${n++}`);

function prng(size: number, seed: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0)).update(Buffer.alloc(size));
}

/** Flips one byte of a stored blob (blob files are read-only). */
function corrupt(store: LocalBlobStore, id: string): void {
  const p = store.pathOf(id);
  chmodSync(p, 0o644);
  const b = readFileSync(p);
  b[0] = b[0]! ^ 0xff;
  writeFileSync(p, b);
}

describe('checkout', () => {
  it('round-trips: snapshot, checkout, snapshot give the same id', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const src = fresh('src');
    mkdirSync(join(src, 'sub/deep'), { recursive: true });
    mkdirSync(join(src, 'empty'));
    writeFileSync(join(src, 'a.txt'), 'hello');
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(src, 'run.sh'), 0o755);
    writeFileSync(join(src, 'sub/big'), prng(9 * 1024 * 1024, 3));
    writeFileSync(join(src, 'sub/deep/zero'), '');
    symlinkSync('../a.txt', join(src, 'sub/link'));
    const s1 = await snapshotDir(src, { store });
    const dest = fresh('dest');
    const r = await checkout(s1.id, dest, { store });
    expect(r).toMatchObject({ files: 4, symlinks: 1, dirs: 1, bytes: s1.bytes });
    const s2 = await snapshotDir(dest, { store });
    expect(s2.id).toBe(s1.id);
    expect(readFileSync(join(dest, 'sub/big')).equals(prng(9 * 1024 * 1024, 3))).toBe(true);
    expect(statSync(join(dest, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dest, 'sub/link'))).toBe('../a.txt');
    expect(lstatSync(join(dest, 'empty')).isDirectory()).toBe(true);
    // No temp files left behind.
    expect((readdirSync(dest, { recursive: true }) as string[]).filter((x) => x.includes('cairn-tmp'))).toEqual([]);
  });

  it('refuses a non-empty destination unless forced', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const src = fresh('src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'new');
    const { id } = await snapshotDir(src, { store });
    const dest = fresh('dest');
    mkdirSync(dest);
    writeFileSync(join(dest, 'a'), 'old');
    writeFileSync(join(dest, 'keep'), 'k');
    await expect(checkout(id, dest, { store })).rejects.toThrow(/not empty/);
    expect(readFileSync(join(dest, 'a'), 'utf8')).toBe('old');
    await checkout(id, dest, { store, force: true });
    expect(readFileSync(join(dest, 'a'), 'utf8')).toBe('new');
    expect(readFileSync(join(dest, 'keep'), 'utf8')).toBe('k');
  });

  it('refuses an escaping symlink before writing anything', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const fileId = await store.put(Buffer.from('x'));
    const { rootId } = await buildTree(
      [
        { path: 'a', entry: { kind: 'file', name: '', mode: 0o644, size: 1, mtimeMs: 0, chunks: [fileId] } },
        { path: 'd/evil', entry: { kind: 'symlink', name: '', target: '../../etc' } },
      ],
      (b) => store.put(b),
    );
    const dest = fresh('dest');
    await expect(checkout(rootId, dest, { store })).rejects.toBeInstanceOf(UnsafePathError);
    expect(existsSync(dest)).toBe(false);
  });

  it('aborts on a corrupt chunk, naming the file', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const src = fresh('src');
    mkdirSync(join(src, 'dir'), { recursive: true });
    writeFileSync(join(src, 'dir/victim.bin'), prng(5000, 4));
    const { id } = await snapshotDir(src, { store });
    let chunk = '';
    for await (const e of readTree(id, (b) => store.get(b))) if (e.entry.kind === 'file') chunk = e.entry.chunks[0]!;
    corrupt(store, chunk);
    const dest = fresh('dest');
    const err = await checkout(id, dest, { store }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobCorruptError);
    expect((err as Error).message).toContain('dir/victim.bin');
    expect(existsSync(join(dest, 'dir/victim.bin'))).toBe(false);
    expect(readdirSync(join(dest, 'dir'))).toEqual([]);
  });
  it('aborts on a corrupt chunk in the middle of a many-chunk file, leaving no partial file', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const src = fresh('src');
    mkdirSync(src);
    writeFileSync(join(src, 'big.bin'), prng(20 * 1024 * 1024, 5));
    const { id } = await snapshotDir(src, { store });
    let chunks: string[] = [];
    for await (const e of readTree(id, (b) => store.get(b))) if (e.entry.kind === 'file') chunks = e.entry.chunks;
    expect(chunks.length).toBeGreaterThan(4);
    corrupt(store, chunks[4]!);
    const dest = fresh('dest');
    const err = await checkout(id, dest, { store }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobCorruptError);
    expect((err as Error).message).toContain('big.bin');
    expect(readdirSync(dest)).toEqual([]);
  });

  it('reports a missing chunk as not found and leaves no temp file', async () => {
    const store = new LocalBlobStore(fresh('store'));
    const src = fresh('src');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), prng(10 * 1024 * 1024, 6));
    const { id } = await snapshotDir(src, { store });
    let chunks: string[] = [];
    for await (const e of readTree(id, (b) => store.get(b))) if (e.entry.kind === 'file') chunks = e.entry.chunks;
    await store.delete(chunks[chunks.length - 1]!);
    const dest = fresh('dest');
    await expect(checkout(id, dest, { store })).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(readdirSync(dest)).toEqual([]);
  });

  it('works with any BlobStore through get, verifying every chunk', async () => {
    const local = new LocalBlobStore(fresh('store'));
    const src = fresh('src');
    mkdirSync(src);
    const data = prng(9 * 1024 * 1024 + 17, 7);
    writeFileSync(join(src, 'f'), data);
    const { id } = await snapshotDir(src, { store: local });
    const verified: boolean[] = [];
    const wrapped: BlobStore = Object.assign(Object.create(local) as LocalBlobStore, {
      get(b: BlobId, o?: { verify?: boolean }) {
        verified.push(o?.verify ?? true);
        return local.get(b, o);
      },
    });
    const dest = fresh('dest');
    const r = await checkout(id, dest, { store: wrapped });
    expect(r.bytes).toBe(data.length);
    expect(readFileSync(join(dest, 'f')).equals(data)).toBe(true);
    expect(verified.length).toBeGreaterThan(2);
    expect(verified.every(Boolean)).toBe(true);
  });
});
