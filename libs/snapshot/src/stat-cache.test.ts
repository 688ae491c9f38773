import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RACY_WINDOW_NS, StatCache, type StatKey } from './stat-cache.ts';

const S = 1_000_000_000n;
const T0 = 1_700_000_000n * S;
const H = (c: string) => c.repeat(64);

describe('StatCache', () => {
  let dir: string;
  let clock: bigint;
  let warnings: string[];
  const opts = () => ({ now: () => clock, warn: (m: string) => warnings.push(m) });
  // A file last written a minute before it was hashed: safely outside the racy window.
  const st = (over: Partial<StatKey> = {}): StatKey => ({ size: 10, mtimeNs: T0 - 60n * S, ctimeNs: T0 - 60n * S, ino: 42n, dev: 7n, ...over });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cairn-statcache-'));
    clock = T0;
    warnings = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hits on an unchanged file and survives save/open', async () => {
    const c = await StatCache.open(path.join(dir, 'state'), '/data/set', opts());
    expect(c.lookup('a', st())).toBeNull();
    c.record('a', st(), [H('a'), H('b')]);
    c.record('empty', st({ size: 0, ino: 43n }), []);
    expect(c.lookup('a', st())).toEqual([H('a'), H('b')]);
    await c.save();
    const again = await StatCache.open(path.join(dir, 'state'), '/data/set/', opts());
    expect(again.size).toBe(2);
    expect(again.lookup('a', st())).toEqual([H('a'), H('b')]);
    expect(again.lookup('empty', st({ size: 0, ino: 43n }))).toEqual([]);
    // number ino and no ctime/dev from a caller that lacks them still match.
    expect(again.lookup('a', { size: 10, mtimeNs: T0 - 60n * S, ino: 42 })).toEqual([H('a'), H('b')]);
    expect(warnings).toEqual([]);
  });

  it.each<[string, Partial<StatKey>]>([
    ['size', { size: 11 }],
    ['mtime', { mtimeNs: T0 - 59n * S }],
    ['mtime by 1 ns', { mtimeNs: T0 - 60n * S + 1n }],
    ['inode', { ino: 99n }],
    ['ctime (mtime forged back)', { ctimeNs: T0 - 30n * S }],
    ['device', { dev: 8n }],
  ])('misses when %s changes', async (_what, change) => {
    const c = await StatCache.open(dir, '/d', opts());
    c.record('a', st(), [H('a')]);
    expect(c.lookup('a', st())).not.toBeNull();
    expect(c.lookup('a', st(change))).toBeNull();
  });

  it('treats a file modified within the racy window of hashing as unknown', async () => {
    const c = await StatCache.open(dir, '/d', opts());
    const recent = st({ mtimeNs: T0 - RACY_WINDOW_NS + 1n });
    c.record('a', recent, [H('a')]);
    expect(c.lookup('a', recent)).toBeNull();
    await c.save();
    // Still racy after a reload, however much later: the reference is when it was hashed.
    clock = T0 + 3600n * S;
    const again = await StatCache.open(dir, '/d', opts());
    expect(again.lookup('a', recent)).toBeNull();
    // Rehashing now records a new reference time, after which the entry is trusted.
    again.record('a', recent, [H('a')]);
    expect(again.lookup('a', recent)).toEqual([H('a')]);
  });

  it('caps reference times by the cache file mtime (clock ahead of the filesystem)', async () => {
    clock = BigInt(Date.now() + 3_600_000) * 1_000_000n; // local clock an hour fast
    const c = await StatCache.open(dir, '/d', opts());
    const fileM = BigInt(Date.now()) * 1_000_000n - S; // really modified a second ago
    c.record('a', st({ mtimeNs: fileM }), [H('a')]);
    expect(c.lookup('a', st({ mtimeNs: fileM }))).not.toBeNull(); // in-session, the fast clock is all we know
    await c.save();
    const again = await StatCache.open(dir, '/d', opts());
    expect(again.lookup('a', st({ mtimeNs: fileM }))).toBeNull();
  });

  it('prunes paths not seen', async () => {
    const c = await StatCache.open(dir, '/d', opts());
    for (const p of ['a', 'b', 'c']) c.record(p, st(), [H('a')]);
    expect(c.prune(['b'])).toBe(2);
    await c.save();
    const again = await StatCache.open(dir, '/d', opts());
    expect(again.size).toBe(1);
    expect(again.lookup('b', st())).not.toBeNull();
  });

  it('keeps one file per dataset root and writes atomically', async () => {
    const a = await StatCache.open(dir, '/d1', opts());
    const b = await StatCache.open(dir, '/d2', opts());
    expect(a.file).not.toBe(b.file);
    a.record('x', st(), [H('a')]);
    b.record('x', st(), [H('b')]);
    await a.save();
    await b.save();
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await StatCache.open(dir, '/d1', opts())).lookup('x', st())).toEqual([H('a')]);
    expect((await StatCache.open(dir, '/d2', opts())).lookup('x', st())).toEqual([H('b')]);
  });

  it('refuses bad chunk lists', async () => {
    const c = await StatCache.open(dir, '/d', opts());
    expect(() => c.record('a', st(), ['nothex'])).toThrow(/invalid chunk id/);
    expect(() => c.record('a', st(), [])).toThrow(/size 10 but 0 chunks/);
  });

  it.each<[string, (b: Buffer) => Buffer]>([
    ['garbage', () => Buffer.from('not a cache at all, clearly')],
    ['empty file', () => Buffer.alloc(0)],
    ['flipped byte', (b) => {
      const c = Buffer.from(b);
      c[c.length - 40]! ^= 1;
      return c;
    }],
    ['truncated', (b) => b.subarray(0, b.length - 10)],
    ['flipped checksum', (b) => {
      const c = Buffer.from(b);
      c[c.length - 1]! ^= 1;
      return c;
    }],
  ])('ignores a corrupt cache file (%s) with a warning', async (_what, damage) => {
    const c = await StatCache.open(dir, '/d', opts());
    c.record('a', st(), [H('a')]);
    await c.save();
    await writeFile(c.file, damage(await readFile(c.file)));
    const again = await StatCache.open(dir, '/d', opts());
    expect(again.size).toBe(0);
    expect(again.lookup('a', st())).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ignored/);
    // And it recovers: the next save replaces the bad file.
    again.record('a', st(), [H('a')]);
    await again.save();
    expect((await StatCache.open(dir, '/d', opts())).size).toBe(1);
  });

  const N = Number(process.env.CAIRN_STATCACHE_BENCH ?? 100_000);
  it(`loads and saves ${N.toLocaleString('en')} entries quickly`, async () => {
    const c = await StatCache.open(dir, '/big', opts());
    const chunk = [H('c')];
    for (let i = 0; i < N; i++) c.record(`dir${i % 1000}/file-${i}.parquet`, st({ ino: BigInt(i) }), chunk);
    let t = performance.now();
    await c.save();
    const saveMs = performance.now() - t;
    t = performance.now();
    const again = await StatCache.open(dir, '/big', opts());
    const loadMs = performance.now() - t;
    t = performance.now();
    let hits = 0;
    for (let i = 0; i < N; i++) if (again.lookup(`dir${i % 1000}/file-${i}.parquet`, st({ ino: BigInt(i) }))) hits++;
    const lookupMs = performance.now() - t;
    const bytes = (await readFile(c.file)).length;
    console.log(
      `stat cache, ${N} entries: save ${saveMs.toFixed(0)} ms, load ${loadMs.toFixed(0)} ms, ` +
        `lookup all ${lookupMs.toFixed(0)} ms, file ${(bytes / 1e6).toFixed(1)} MB`,
    );
    expect(hits).toBe(N);
    expect(saveMs + loadMs).toBeLessThan((N / 100_000) * 2000);
  });
});
