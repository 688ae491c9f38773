import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from '@cairn/snapshot';
import { openStore } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { cli, lines, storeArgs } from './test-support.ts';

const ID = /\b[0-9a-f]{64}\b/;

/** Every file under `dir` (relative path → bytes), directories implied. */
function readAll(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    files.set(path.relative(dir, abs).split(path.sep).join('/'), fs.readFileSync(abs));
  }
  return files;
}

/** The stored blob whose bytes are exactly `content` (a file up to 4 MiB is one chunk, stored as is). */
function blobHolding(blobs: string, content: Buffer): string {
  for (const prefix of fs.readdirSync(blobs)) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const name of fs.readdirSync(path.join(blobs, prefix))) {
      const p = path.join(blobs, prefix, name);
      if (fs.statSync(p).size === content.length && fs.readFileSync(p).equals(content)) return p;
    }
  }
  throw new Error('no blob holds that content');
}

/**
 * `cairn data …` end to end: one store and blob store per engine, the tests run in
 * order over the same dataset folder (v1, an unchanged re-snapshot, then v2).
 * Embedded stores keep blobs in --home; with PostgreSQL, CAIRN_HOME only holds blobs.
 */
describe.each(testDrivers())('cairn data on $name', (engine) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-data-'));
  const dataDir = path.join(tmp, 'dataset');
  let home: string;
  let loc: { home?: string; url?: string };
  let args: string[];
  let env: NodeJS.ProcessEnv;
  let v1 = '';
  let v2 = '';
  let v1Files: Map<string, Buffer>;
  const run = (...rest: string[]) => cli([...args, 'data', ...rest], { env });

  beforeAll(async () => {
    loc = await engine.fresh();
    home = loc.home ?? path.join(tmp, 'home');
    args = storeArgs(loc);
    // CAIRN_BLOBS from the developer's shell must not move the blob store.
    env = { CAIRN_BLOBS: '', ...(loc.url ? { CAIRN_HOME: home } : {}) };
    const init = await cli(['init', ...args], { env });
    expect(init.code).toBe(0);

    fs.mkdirSync(path.join(dataDir, 'images'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'labels.csv'), 'id,label\n1,cat\n2,dog\n');
    fs.writeFileSync(path.join(dataDir, 'images', 'a.bin'), randomBytes(4096));
    // Over 4 MiB: split into content-defined chunks.
    fs.writeFileSync(path.join(dataDir, 'images', 'big.bin'), randomBytes(5 * 1024 * 1024 + 123));
    fs.writeFileSync(path.join(dataDir, 'README'), 'v1\n');
    v1Files = readAll(dataDir);
  });
  afterAll(async () => {
    await engine.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('snapshots a folder, prints the id and records it', async () => {
    const r = await run('snapshot', dataDir, '--dataset', 'pets', '-m', 'first cut');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Recorded snapshot [0-9a-f]{64} of pets: 4 files, 5\.0 MiB/);
    v1 = r.stdout.match(ID)![0];
    expect(fs.existsSync(path.join(home, 'blobs', v1.slice(0, 2), v1.slice(2)))).toBe(true);
    expect(fs.readdirSync(path.join(home, 'state')).length).toBeGreaterThan(0);

    const log = await run('log', 'pets', '--json');
    expect(log.code).toBe(0);
    const { snapshots } = JSON.parse(log.stdout) as { snapshots: Record<string, unknown>[] };
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]).toMatchObject({ id: v1, dataset: 'pets', parentId: null, message: 'first cut', fileCount: 4, bytes: 5 * 1024 * 1024 + 123 + 4096 + 21 + 3 });
  });

  it('says unchanged when nothing changed, and reports skipped special files', async () => {
    const fifo = process.platform !== 'win32';
    if (fifo) execFileSync('mkfifo', [path.join(dataDir, 'pipe')]);
    try {
      const r = await run('snapshot', dataDir, '--dataset', 'pets');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Unchanged: pets is already at snapshot ${v1}`);
      if (fifo) expect(r.stderr).toContain('pipe (fifo)');

      const json = await run('snapshot', dataDir, '--dataset', 'pets', '--rehash', '--json');
      expect(json.code).toBe(0);
      const rec = JSON.parse(json.stdout) as Record<string, any>;
      expect(rec).toMatchObject({ id: v1, created: false, fileCount: 4 });
      expect(rec.hashed).toBe(4);
      if (fifo) expect(rec.skipped).toEqual([expect.objectContaining({ path: 'pipe', kind: 'fifo' })]);
    } finally {
      fs.rmSync(path.join(dataDir, 'pipe'), { force: true });
    }
  });

  it('records a changed folder as a new snapshot whose parent is the last one; log lists newest first', async () => {
    fs.writeFileSync(path.join(dataDir, 'labels.csv'), 'id,label\n1,cat\n2,dog\n3,bird\n');
    fs.rmSync(path.join(dataDir, 'README'));
    fs.writeFileSync(path.join(dataDir, 'images', 'c.bin'), 'new image');
    const r = await run('snapshot', dataDir, '--dataset', 'pets', '--message', 'add birds');
    expect(r.code, r.stderr).toBe(0);
    v2 = r.stdout.match(ID)![0];
    expect(v2).not.toBe(v1);
    expect(r.stdout).toContain(`parent ${v1.slice(0, 12)}`);

    const log = await run('log', 'pets');
    expect(log.code).toBe(0);
    const [header, ...rows] = lines(log.stdout);
    expect(header).toMatch(/^ID\s+CREATED\s+FILES\s+SIZE\s+MESSAGE\s+PARENT$/);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`^${v2.slice(0, 12)}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+4\\s+5\\.0 MiB\\s+add birds\\s+${v1.slice(0, 12)}$`));
    expect(rows[1]).toMatch(new RegExp(`^${v1.slice(0, 12)}\\s.*\\s+4\\s+5\\.0 MiB\\s+first cut\\s+-$`));

    const list = await run('list');
    expect(list.stdout).toMatch(new RegExp(`pets\\s+2\\s+${v2.slice(0, 12)}`));
  });

  it('records a profile with each snapshot and shows drift and class balance between two', async () => {
    const log = await run('log', 'pets', '--json');
    const { snapshots } = JSON.parse(log.stdout) as { snapshots: { id: string; profile: { tables: Record<string, { rows: number }> } }[] };
    expect(snapshots[0]!.profile.tables['labels.csv']!.rows).toBe(3);
    expect(snapshots[1]!.profile.tables['labels.csv']!.rows).toBe(2);

    const one = await run('profile', v2.slice(0, 8), '--label', 'label');
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('labels.csv: 3 rows (csv)');
    expect(one.stdout).toMatch(/label label: bird 1 \(33\.3%\), cat 1 \(33\.3%\), dog 1 \(33\.3%\)/);

    const drift = await run('profile', v2, '--against', v1, '--label', 'label', '--json');
    expect(drift.code, drift.stderr).toBe(0);
    const d = JSON.parse(drift.stdout) as { tables: Record<string, { rows: { delta: number }; label: { maxShift: { class: string } } }> };
    expect(d.tables['labels.csv']!.rows.delta).toBe(1);
    expect(d.tables['labels.csv']!.label.maxShift.class).toBe('bird');
  });

  it('diffs two snapshots by prefix: added, removed and modified paths with a summary', async () => {
    const r = await run('diff', v1.slice(0, 8), v2.slice(0, 10));
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(['- README', '+ images/c.bin (9 B)', 'M labels.csv (21 B → 28 B)']);
    expect(r.stderr).toBe('1 added, 1 removed, 1 modified\n');

    const json = await run('diff', v1, v2, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({
      from: v1,
      to: v2,
      added: [{ path: 'images/c.bin', kind: 'file', size: 9 }],
      removed: [{ path: 'README', kind: 'file', size: 3 }],
      modified: [{ path: 'labels.csv', oldSize: 21, newSize: 28 }],
    });
  });

  it('checks out a snapshot byte for byte and refuses a non-empty folder without --force', async () => {
    const dest = path.join(tmp, 'restored');
    const r = await run('checkout', v1.slice(0, 12), dest);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Checked out ${v1.slice(0, 12)} into ${dest}: 4 files`);
    const restored = readAll(dest);
    expect([...restored.keys()].sort()).toEqual([...v1Files.keys()].sort());
    for (const [p, bytes] of v1Files) expect(restored.get(p)!.equals(bytes), p).toBe(true);

    const again = await run('checkout', v2, dest);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(lines(again.stderr)).toEqual([`cairn: ${dest} is not empty: check out into an empty folder, or pass --force to overwrite the files the snapshot names`]);

    const forced = await run('checkout', v2, dest, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dest, 'labels.csv'), 'utf8')).toContain('3,bird');
  });

  it('verify passes on an intact store and exits 1 naming the file of a corrupt blob', async () => {
    const ok = await run('verify');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('');
    expect(ok.stderr).toMatch(/^\d+ blobs of 2 snapshots checked in .*: 0 corrupt, 0 missing, 0 unreadable, 0 invalid\n$/);

    const labels = fs.readFileSync(path.join(dataDir, 'labels.csv'));
    const blob = blobHolding(path.join(home, 'blobs'), labels);
    const original = fs.readFileSync(blob);
    fs.chmodSync(blob, 0o644);
    const flipped = Buffer.from(original);
    flipped[0]! ^= 0xff;
    fs.writeFileSync(blob, flipped);
    try {
      const bad = await run('verify');
      expect(bad.code).toBe(1);
      expect(bad.stdout).toBe(`corrupt  ${path.basename(path.dirname(blob))}${path.basename(blob)}  labels.csv  in ${v2.slice(0, 12)}\n`);
      expect(lines(bad.stderr).at(-1)).toMatch(/^cairn: 1 damaged blob in .* \(1 snapshot, 1 file or folder affected: labels\.csv\); restore them/);

      // Only v2 holds that version of labels.csv.
      const onlyV1 = await run('verify', v1.slice(0, 8), '--json');
      expect(onlyV1.code).toBe(0);
      expect(JSON.parse(onlyV1.stdout)).toMatchObject({ snapshots: [v1], corrupt: [], missing: [] });
    } finally {
      fs.writeFileSync(blob, original);
    }
  });

  it('verify reports every damaged tree and every damaged blob of every snapshot, then exits 1', async () => {
    const blobs = new LocalBlobStore(path.join(home, 'blobs'));
    const tree = (id: string, name: string) => (JSON.parse(fs.readFileSync(blobs.pathOf(id), 'utf8')) as { entries: { name: string; id: string }[] }).entries.find((e) => e.name === name)!.id;
    const v1Images = tree(v1, 'images');
    const v2Images = tree(v2, 'images');
    const labels2 = blobHolding(path.join(home, 'blobs'), fs.readFileSync(path.join(dataDir, 'labels.csv')));
    const readme = blobHolding(path.join(home, 'blobs'), Buffer.from('v1\n'));
    const kept = new Map([v1Images, v2Images].map((id) => [blobs.pathOf(id), fs.readFileSync(blobs.pathOf(id))]));
    kept.set(labels2, fs.readFileSync(labels2));
    kept.set(readme, fs.readFileSync(readme));
    const writable = (p: string) => fs.chmodSync(p, 0o644);
    try {
      // v1's images/ tree: a folder where its file was. v2's images/ tree: one byte flipped.
      fs.rmSync(blobs.pathOf(v1Images));
      fs.mkdirSync(blobs.pathOf(v1Images));
      writable(blobs.pathOf(v2Images));
      const t = fs.readFileSync(blobs.pathOf(v2Images));
      t[10]! ^= 0x01;
      fs.writeFileSync(blobs.pathOf(v2Images), t);
      // v2's labels.csv cut short; v1's README gone.
      writable(labels2);
      fs.writeFileSync(labels2, 'id,lab');
      fs.rmSync(readme);

      const r = await run('verify');
      expect(r.code).toBe(1);
      const id = (p: string) => path.basename(path.dirname(p)) + path.basename(p);
      const reported = lines(r.stdout);
      expect(reported).toHaveLength(4);
      expect(reported).toEqual(
        expect.arrayContaining([
          `corrupt  ${v2Images}  tree images/  in ${v2.slice(0, 12)}`,
          `corrupt  ${id(labels2)}  labels.csv  in ${v2.slice(0, 12)}`,
          `missing  ${id(readme)}  README  in ${v1.slice(0, 12)}`,
          expect.stringMatching(new RegExp(`^unreadable  ${v1Images}  tree images/  in ${v1.slice(0, 12)}  \\(EISDIR`)),
        ]),
      );
      expect(r.stderr).toMatch(/: 2 corrupt, 1 missing, 1 unreadable, 0 invalid\n/);
      expect(lines(r.stderr).at(-1)).toMatch(/^cairn: 4 damaged blobs \(2 trees\) in .* \(2 snapshots, 3 files or folders affected: /);

      const json = await run('verify', '--json');
      expect(json.code).toBe(1);
      const report = JSON.parse(json.stdout) as { corrupt: { blob: string; kind: string; snapshots: string[] }[]; missing: unknown[]; unreadable: { blob: string; reason: string }[] };
      expect(report.corrupt.map((b) => [b.blob, b.kind, b.snapshots]).sort()).toEqual(
        [
          [v2Images, 'tree', [v2]],
          [id(labels2), 'chunk', [v2]],
        ].sort(),
      );
      expect(report.missing).toEqual([{ blob: id(readme), kind: 'chunk', files: ['README'], snapshots: [v1] }]);
      expect(report.unreadable).toEqual([{ blob: v1Images, kind: 'tree', files: ['images'], snapshots: [v1], reason: expect.stringMatching(/^EISDIR/) }]);
    } finally {
      for (const [p, bytes] of kept) {
        fs.rmSync(p, { recursive: true, force: true });
        fs.writeFileSync(p, bytes);
      }
    }
    expect((await run('verify')).code).toBe(0);
  });

  it('gc removes an old orphan blob and keeps snapshot and artifact blobs', async () => {
    const blobs = new LocalBlobStore(path.join(home, 'blobs'));
    const orphan = await blobs.put(Buffer.from('nobody references me'));
    const checkpoint = await blobs.put(Buffer.from('a checkpoint a run logged'));
    // Older than gc's 10-minute grace period, like any blob from an earlier day.
    const old = Date.now() / 1000 - 3600;
    for (const id of [orphan, checkpoint]) fs.utimesSync(blobs.pathOf(id), old, old);
    const store = await openStore(loc);
    try {
      const e = await store.ensureExperiment({ name: 'gc-roots' });
      const r = await store.createRun({ experimentId: e.id });
      await store.logArtifact(r.id, { path: 'checkpoint.bin', hash: checkpoint, size: 25 });
    } finally {
      await store.close();
    }
    const before = (await run('verify', '--json')).stdout;

    const dry = await run('gc', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, removed: [orphan] });
    expect(await blobs.has(orphan)).toBe(true);

    const gcRun = await run('gc');
    expect(gcRun.code, gcRun.stderr).toBe(0);
    expect(gcRun.stdout).toMatch(/^removed 1 blob \(20 B\) of \d+ in /);
    expect(await blobs.has(orphan)).toBe(false);
    expect(await blobs.has(checkpoint)).toBe(true);
    const after = await run('verify', '--json');
    expect(after.code).toBe(0);
    expect(after.stdout).toBe(before);
  });

  it('exits 1 with one line for an unknown snapshot prefix or dataset', async () => {
    const r = await run('diff', '0000dead', v1);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual(["cairn: snapshot '0000dead' not found: see 'cairn data log DATASET' for snapshot ids"]);

    const log = await run('log', 'no-such-dataset');
    expect(log.code).toBe(1);
    expect(lines(log.stderr)).toEqual(["cairn: dataset 'no-such-dataset' not found: see 'cairn data list'"]);
  });
});
