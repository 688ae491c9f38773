import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore, checkout, chunkBoundaries, hashFile, readTree, snapshotDir, statFile, walkTree, type BlobId } from '@cairn/snapshot';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import type { ResultRow } from './report.ts';
import { formatInt, formatMs, median } from './stats.ts';

/**
 * snapshot: @cairn/snapshot on the local filesystem. Hashing a 1 GiB file against
 * b3sum / md5sum / cat run as whole processes on the same file in the same run;
 * snapshotDir over 20,000 small files (first and unchanged); a 100-byte insertion;
 * checkout; and, with --big, 1,000,000 files in a child process for its peak RSS.
 */

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
export const SNAPSHOT_TARGETS = {
  hashBps: 3e9,
  vsB3sum: 0.7,
  smallFirstMs: 500,
  smallAgainMs: 100,
  newChunks: 2,
  checkoutBps: 1e9,
  bigSeconds: 120,
  bigRssMiB: 1024,
} as const;

// Temp dirs, removed at exit and on Ctrl-C / SIGTERM (as engines.ts does for databases).
const temps = new Set<string>();
let hooked = false;
function tempDir(what: string): string {
  if (!hooked) {
    hooked = true;
    const onSignal = (signal: NodeJS.Signals) => {
      console.error(`\n${signal}: removing snapshot benchmark temp dirs…`);
      for (const d of temps) rmSync(d, { recursive: true, force: true });
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const d = mkdtempSync(path.join(process.env.CAIRN_BENCH_TMP ?? os.tmpdir(), `cairn-bench-${what}-`));
  temps.add(d);
  return d;
}
function removeTemp(d: string): void {
  rmSync(d, { recursive: true, force: true });
  temps.delete(d);
}

/** Deterministic incompressible bytes (AES-CTR keystream), written in 64 MiB pieces. */
function writeRandomFile(file: string, size: number, seed: number, prefix?: Uint8Array): void {
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0));
  const fd = openSync(file, 'w');
  try {
    if (prefix) writeSync(fd, prefix);
    const zero = Buffer.alloc(64 * MiB);
    for (let left = size; left > 0; left -= zero.length) writeSync(fd, c.update(zero.subarray(0, Math.min(left, zero.length))));
  } finally {
    closeSync(fd);
  }
}

/** Wall time of a whole process run through the shell, in ms. */
function timeProcess(cmd: string): number {
  const t = performance.now();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`'${cmd}' failed (${r.status}): ${r.stderr.toString().trim()}`);
  return ms;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function timeMs(fn: () => unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function countBlobs(store: LocalBlobStore): Promise<Set<BlobId>> {
  const s = new Set<BlobId>();
  for await (const id of store.list()) s.add(id);
  return s;
}

async function fileChunks(store: LocalBlobStore, id: BlobId): Promise<BlobId[]> {
  for await (const e of readTree(id, (b) => store.get(b))) if (e.entry.kind === 'file') return e.entry.chunks;
  return [];
}

/** The plain gear loop FastCDC's scan is built on, no masks or cut logic: its speed bound. */
function plainGear(data: Uint8Array): number {
  const g = new Int32Array(256).map((_, i) => Math.imul(i + 1, 0x9e3779b1));
  let h = 0;
  let cuts = 0;
  for (let i = 0; i < data.length; i++) {
    h = ((h << 1) + g[data[i]!]!) | 0;
    if ((h & 0xfff00000) === 0) cuts++;
  }
  return cuts;
}

function row(r: Omit<ResultRow, 'bench' | 'engine'>): ResultRow {
  return { bench: 'snapshot', engine: 'fs', ...r };
}

export async function snapshotBench(ctx: BenchContext & { big?: boolean }): Promise<BenchResult> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const reps = 3;
  const bigSize = ctx.quick ? 256 * MiB : GiB;
  const sizeLabel = ctx.quick ? '256 MiB' : '1 GiB';

  // ---- 1 GiB file: hashing, chunking, snapshot, insertion, checkout ----
  const work = tempDir('large');
  try {
    const file = path.join(work, 'data', 'big.bin');
    mkdirSync(path.dirname(file));
    progress(`snapshot: writing a ${sizeLabel} file`);
    writeRandomFile(file, bigSize, 1);
    timeProcess(`cat ${q(file)} > /dev/null`); // warm the page cache

    const hashMs: number[] = [];
    const b3Ms: number[] = [];
    const md5Ms: number[] = [];
    const catMs: number[] = [];
    const b3 = have('b3sum');
    const md5 = have('md5sum');
    for (let i = 0; i < reps; i++) {
      hashMs.push(await timeMs(() => hashFile(file)));
      if (b3) b3Ms.push(timeProcess(`b3sum --num-threads 1 ${q(file)} > /dev/null`));
      if (md5) md5Ms.push(timeProcess(`md5sum ${q(file)} > /dev/null`));
      catMs.push(timeProcess(`cat ${q(file)} > /dev/null`));
    }
    const bps = (ms: number[]) => bigSize / (median(ms) / 1000);
    const hashBps = bps(hashMs);
    const ratios = [
      ...(b3 ? [{ vs: 'b3sum -j1', value: hashBps / bps(b3Ms) }] : []),
      ...(md5 ? [{ vs: 'md5sum', value: hashBps / bps(md5Ms) }] : []),
      { vs: 'cat>/dev/null', value: hashBps / bps(catMs) },
    ];
    rows.push(row({ case: `hashFile ${sizeLabel}, warm cache, 1 thread`, value: hashBps, unit: 'B/s', stat: `median of ${reps}`, target: { op: '>=', value: SNAPSHOT_TARGETS.hashBps }, ratios }));
    if (b3) {
      rows.push(row({ case: 'hashFile / b3sum --num-threads 1', value: hashBps / bps(b3Ms), unit: 'x', stat: `ratio of medians`, target: { op: '>=', value: SNAPSHOT_TARGETS.vsB3sum } }));
      rows.push(row({ case: `b3sum --num-threads 1 (process)`, value: bps(b3Ms), unit: 'B/s', stat: `median of ${reps}`, baseline: true }));
    } else {
      notes.push('b3sum is not installed (Debian: apt-get install b3sum): the ≥ 70% of b3sum target was not checked');
    }
    if (md5) rows.push(row({ case: `md5sum (process)`, value: bps(md5Ms), unit: 'B/s', stat: `median of ${reps}`, baseline: true }));
    rows.push(row({ case: `cat > /dev/null (process)`, value: bps(catMs), unit: 'B/s', stat: `median of ${reps}`, baseline: true }));

    // FastCDC alone, in memory, against the plain gear loop it is built on.
    const mem = Buffer.alloc(256 * MiB);
    createCipheriv('aes-128-ctr', Buffer.alloc(16, 2), Buffer.alloc(16, 0)).update(mem).copy(mem);
    const cdcMs: number[] = [];
    const gearMs: number[] = [];
    for (let i = 0; i < reps; i++) {
      cdcMs.push(await timeMs(() => chunkBoundaries(mem)));
      gearMs.push(await timeMs(() => plainGear(mem)));
    }
    const cdcBps = mem.length / (median(cdcMs) / 1000);
    const gearBps = mem.length / (median(gearMs) / 1000);
    rows.push(row({ case: 'FastCDC chunkBoundaries, 256 MiB in memory', value: cdcBps, unit: 'B/s', stat: `median of ${reps}`, ratios: [{ vs: 'plain gear loop', value: cdcBps / gearBps }] }));
    rows.push(row({ case: 'plain gear loop, every byte (no skipping)', value: gearBps, unit: 'B/s', stat: `median of ${reps}`, baseline: true }));

    // snapshotDir of the one file into a fresh store each time: read + chunk + hash + write blobs.
    const snapMs: number[] = [];
    let firstId = '';
    let store = new LocalBlobStore(path.join(work, 'store0'));
    for (let i = 0; i < reps; i++) {
      const root = path.join(work, `store${i}`);
      store = new LocalBlobStore(root);
      snapMs.push(await timeMs(async () => (firstId = (await snapshotDir(path.dirname(file), { store })).id)));
      if (i < reps - 1) rmSync(root, { recursive: true, force: true });
    }
    const snapBps = bps(snapMs);
    rows.push(row({ case: `snapshotDir ${sizeLabel} file, new store (chunk+hash+write)`, value: snapBps, unit: 'B/s', stat: `median of ${reps}`, ratios: [{ vs: 'hashFile', value: snapBps / hashBps }, { vs: 'cat>/dev/null', value: snapBps / bps(catMs) }] }));
    progress(`snapshot: ${sizeLabel} snapshot ${formatMs(median(snapMs))}`);

    // The same file after a 100-byte insertion at the start.
    const before = new Set(await fileChunks(store, firstId));
    const blobsBefore = await countBlobs(store);
    const edited = path.join(work, 'edited', 'big.bin');
    mkdirSync(path.dirname(edited));
    const insert = Buffer.alloc(100);
    createCipheriv('aes-128-ctr', Buffer.alloc(16, 9), Buffer.alloc(16, 0)).update(insert).copy(insert);
    writeRandomFile(edited, bigSize, 1, insert);
    const s2 = await snapshotDir(path.dirname(edited), { store });
    const after = await fileChunks(store, s2.id);
    const fresh = after.filter((c) => !before.has(c)).length;
    const blobsAfter = await countBlobs(store);
    rows.push(row({ case: `100-byte insertion at the start: new chunks`, value: fresh, unit: 'count', stat: '1 run', target: { op: '<=', value: SNAPSHOT_TARGETS.newChunks }, extra: `of ${after.length} chunks; ${blobsAfter.size - blobsBefore.size} new blobs incl. the tree node` }));
    rmSync(path.dirname(edited), { recursive: true, force: true });

    // Checkout, against cp of the same file (whole process).
    const coMs: number[] = [];
    const cpMs: number[] = [];
    for (let i = 0; i < reps; i++) {
      const dest = path.join(work, `co${i}`);
      coMs.push(await timeMs(() => checkout(firstId, dest, { store })));
      rmSync(dest, { recursive: true, force: true });
      const cpDest = path.join(work, `cp${i}`);
      cpMs.push(timeProcess(`cp ${q(file)} ${q(cpDest)} && sync ${q(cpDest)}`));
      rmSync(cpDest, { force: true });
    }
    const coBps = bps(coMs);
    rows.push(row({ case: `checkout ${sizeLabel} (verifying every chunk)`, value: coBps, unit: 'B/s', stat: `median of ${reps}`, target: { op: '>=', value: SNAPSHOT_TARGETS.checkoutBps }, ratios: [{ vs: 'cp+sync', value: coBps / bps(cpMs) }] }));
    rows.push(row({ case: `cp + sync of the file (process)`, value: bps(cpMs), unit: 'B/s', stat: `median of ${reps}`, baseline: true }));
  } finally {
    removeTemp(work);
  }

  // ---- 20,000 files of 1–64 KiB ----
  const nSmall = ctx.quick ? 5_000 : 20_000;
  const small = tempDir('small');
  try {
    const data = path.join(small, 'data');
    progress(`snapshot: writing ${formatInt(nSmall)} files of 1–64 KiB`);
    const bytes = makeSmallFiles(data, nSmall, 100);
    const label = `${formatInt(nSmall)} files of 1–64 KiB (${(bytes / MiB).toFixed(0)} MiB)`;

    const firstMs: number[] = [];
    const againMs: number[] = [];
    const rehashMs: number[] = [];
    let id = '';
    for (let i = 0; i < reps; i++) {
      const store = new LocalBlobStore(path.join(small, `store${i}`));
      const cacheDir = path.join(small, `cache${i}`);
      firstMs.push(await timeMs(async () => (id = (await snapshotDir(data, { store, statCacheDir: cacheDir })).id)));
      for (let k = 0; k < 2; k++) againMs.push(await timeMs(() => snapshotDir(data, { store, statCacheDir: cacheDir })));
      rehashMs.push(await timeMs(() => snapshotDir(data, { store })));
      if (i < reps - 1) rmSync(path.join(small, `store${i}`), { recursive: true, force: true });
      progress(`snapshot: rep ${i + 1}/${reps}: first ${formatMs(firstMs[i]!)}, unchanged ${formatMs(againMs.at(-1)!)}`);
    }
    // Baselines as whole processes over the same files: read+hash all (b3sum), and copy all (cp -r, same bytes written).
    const b3 = have('b3sum');
    const b3Ms: number[] = [];
    const cpMs: number[] = [];
    const statMs: number[] = [];
    for (let i = 0; i < reps; i++) {
      if (b3) b3Ms.push(timeProcess(`cd ${q(data)} && find . -type f -print0 | xargs -0 b3sum --num-threads 1 > /dev/null`));
      const cpDest = path.join(small, `cp${i}`);
      cpMs.push(timeProcess(`cp -r ${q(data)} ${q(cpDest)}`));
      rmSync(cpDest, { recursive: true, force: true });
      statMs.push(await timeMs(() => {
        for (const e of walkTree(data).entries) if (e.kind === 'file') statFile(e.abs);
      }));
    }
    const firstRatios = [...(b3 ? [{ vs: 'b3sum all', value: median(firstMs) / median(b3Ms) }] : []), { vs: 'cp -r', value: median(firstMs) / median(cpMs) }];
    rows.push(row({ case: `snapshotDir ${label}, new store`, value: median(firstMs), unit: 'ms', stat: `median of ${reps}`, target: { op: '<=', value: SNAPSHOT_TARGETS.smallFirstMs }, ratios: firstRatios }));
    rows.push(row({ case: `snapshotDir same, blobs stored, no stat cache`, value: median(rehashMs), unit: 'ms', stat: `median of ${reps}`, ratios: b3 ? [{ vs: 'b3sum all', value: median(rehashMs) / median(b3Ms) }] : [] }));
    rows.push(row({ case: `snapshotDir same, unchanged (stat cache)`, value: median(againMs), unit: 'ms', stat: `median of ${againMs.length}`, target: { op: '<=', value: SNAPSHOT_TARGETS.smallAgainMs }, ratios: [{ vs: 'walk+lstat', value: median(againMs) / median(statMs) }] }));
    if (b3) rows.push(row({ case: `find | xargs b3sum -j1 over the files (process)`, value: median(b3Ms), unit: 'ms', stat: `median of ${reps}`, baseline: true }));
    rows.push(row({ case: `cp -r of the files (process)`, value: median(cpMs), unit: 'ms', stat: `median of ${reps}`, baseline: true }));
    rows.push(row({ case: `walkTree + statFile of every file (in process)`, value: median(statMs), unit: 'ms', stat: `median of ${reps}`, baseline: true }));
    notes.push(`snapshot: ratios of the 20k-file rows are time / baseline time (lower is faster); snapshot id ${id.slice(0, 12)}…`);
  } finally {
    removeTemp(small);
  }

  // ---- 1,000,000 files, opt-in ----
  if (ctx.big) {
    const nBig = 1_000_000;
    const dir = tempDir('million');
    try {
      const data = path.join(dir, 'data');
      progress(`snapshot: writing ${formatInt(nBig)} small files (this takes a while)`);
      const t = performance.now();
      makeSmallFiles(data, nBig, 1000, 64, 4096);
      const createMs = performance.now() - t;
      progress(`snapshot: created in ${formatMs(createMs)}; snapshotting in a child process`);
      const child = runChildSnapshot(data, path.join(dir, 'store'), path.join(dir, 'cache'));
      rows.push(row({ case: `snapshotDir ${formatInt(nBig)} files of 64 B–4 KiB, new store`, value: child.ms, unit: 'ms', stat: '1 run', target: { op: '<=', value: SNAPSHOT_TARGETS.bigSeconds * 1000 }, ratios: [{ vs: 'creating them', value: child.ms / createMs }] }));
      rows.push(row({ case: `  peak RSS of that snapshot (child process)`, value: child.rssMiB, unit: 'MiB', stat: '1 run', target: { op: '<=', value: SNAPSHOT_TARGETS.bigRssMiB } }));
      rows.push(row({ case: `creating the ${formatInt(nBig)} files (in process)`, value: createMs, unit: 'ms', stat: '1 run', baseline: true }));
    } finally {
      removeTemp(dir);
    }
  } else {
    notes.push('snapshot: the 1,000,000-file case is opt-in: pass --big');
  }
  return { rows, notes };
}

/** `n` files of `min`–`max` bytes (pseudo-random sizes and bytes) in `dirs` folders, mtimes a minute back (outside the stat cache's racy window). Returns the total bytes. */
function makeSmallFiles(root: string, n: number, dirs: number, min = 1024, max = 64 * 1024): number {
  const pool = Buffer.alloc(max + 64 * 1024);
  createCipheriv('aes-128-ctr', Buffer.alloc(16, 5), Buffer.alloc(16, 0)).update(pool).copy(pool);
  const t = Date.now() / 1000 - 60;
  let total = 0;
  for (let d = 0; d < dirs; d++) mkdirSync(path.join(root, `d${d}`), { recursive: true });
  for (let i = 0; i < n; i++) {
    const h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
    const size = min + (h % (max - min + 1));
    const off = (h >>> 7) % (pool.length - size - 4);
    const bytes = Buffer.from(pool.subarray(off, off + size));
    bytes.writeUInt32LE(i, 0); // distinct content per file
    const p = path.join(root, `d${i % dirs}`, `f${i}.bin`);
    writeFileSync(p, bytes);
    utimesSync(p, t, t);
    total += size;
  }
  return total;
}

/** Runs one snapshotDir in a fresh Node process and reads back its time and peak RSS. */
function runChildSnapshot(data: string, storeRoot: string, cacheDir: string): { ms: number; rssMiB: number } {
  const lib = import.meta.resolve('@cairn/snapshot');
  const script = `
    const { snapshotDir, LocalBlobStore } = await import(${JSON.stringify(lib)});
    const t = performance.now();
    await snapshotDir(${JSON.stringify(data)}, { store: new LocalBlobStore(${JSON.stringify(storeRoot)}), statCacheDir: ${JSON.stringify(cacheDir)} });
    const ms = performance.now() - t;
    console.log(JSON.stringify({ ms, rssMiB: process.resourceUsage().maxRSS / 1024 }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`child snapshot failed with status ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ms: number; rssMiB: number };
}
