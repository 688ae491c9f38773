import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync, utimesSync } from 'node:fs';
import { buildTree, readTree, type BuildInput } from './manifest.ts';
import { StatCache } from './stat-cache.ts';
import { statFile, walkTree } from './walk.ts';

const isRoot = process.getuid?.() === 0;

describe('walkTree', () => {
  let dir: string;
  let outside: string;
  let server: Server;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cairn-walk-'));
    outside = mkdtempSync(path.join(tmpdir(), 'cairn-outside-'));
    writeFileSync(path.join(outside, 'secret'), 'do not read');
    mkdirSync(path.join(dir, 'data/sub'), { recursive: true });
    mkdirSync(path.join(dir, 'empty'));
    mkdirSync(path.join(dir, 'specials'));
    writeFileSync(path.join(dir, 'a.txt'), 'hello');
    writeFileSync(path.join(dir, 'data/sub/x.bin'), Buffer.alloc(10));
    writeFileSync(path.join(dir, 'data/zero'), '');
    // Both a file link and a directory link out of the tree: neither may be followed.
    symlinkSync(path.join(outside, 'secret'), path.join(dir, 'data/leak'));
    symlinkSync(outside, path.join(dir, 'outdir'));
    execFileSync('mkfifo', [path.join(dir, 'specials/pipe')]);
    server = createServer();
    await new Promise<void>((resolve) => server.listen(path.join(dir, 'specials/sock'), resolve));
    writeFileSync(path.join(dir, 'bad\\name'), 'x');
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('lists files, links and dirs without following links or opening specials', () => {
    const r = walkTree(`${dir}/`);
    expect(r.root).toBe(dir);
    expect(r.entries.map((e) => [e.path, e.kind, e.empty])).toEqual([
      ['a.txt', 'file', undefined],
      ['data', 'dir', false],
      ['data/leak', 'symlink', undefined],
      ['data/sub', 'dir', false],
      ['data/sub/x.bin', 'file', undefined],
      ['data/zero', 'file', undefined],
      ['empty', 'dir', true],
      ['outdir', 'symlink', undefined],
      ['specials', 'dir', false],
    ]);
    expect(r.entries.some((e) => e.path.includes('secret'))).toBe(false);
    expect(r.skipped).toEqual([
      { path: 'bad\\name', kind: 'unsafe-name', reason: 'contains a backslash' },
      { path: 'specials/pipe', kind: 'fifo', reason: 'special file (fifo) not read' },
      { path: 'specials/sock', kind: 'socket', reason: 'special file (socket) not read' },
    ]);
    expect(r.entries[0]!.abs).toBe(path.join(dir, 'a.txt'));
  });

  it('stats a file on demand with exact fields', () => {
    const st = statFile(path.join(dir, 'a.txt'));
    expect(st.size).toBe(5);
    expect(typeof st.mtimeNs).toBe('bigint');
    expect(st.ino).toBeGreaterThan(0n);
    expect(st.mode & 0o777).toBeGreaterThan(0);
  });

  it('names the missing or non-directory root', () => {
    expect(() => walkTree(path.join(dir, 'nope'))).toThrow(/cannot list directory .*nope.*ENOENT/);
    expect(() => walkTree(path.join(dir, 'a.txt'))).toThrow(/ENOTDIR/);
  });

  it('raises a clear error naming an unreadable directory', (ctx) => {
    const locked = path.join(dir, 'data/locked');
    mkdirSync(path.join(locked, 'inner'), { recursive: true });
    chmodSync(locked, 0o000);
    try {
      if (!isRoot) {
        expect(() => walkTree(dir)).toThrow(/cannot list directory .*data\/locked.*EACCES/);
        return;
      }
      // Root reads through chmod 000, so run the same walk in a child that drops to
      // 'nobody' (uid 65534): the fault stays a real EACCES from the kernel.
      chmodSync(dir, 0o755);
      const walkTs = fileURLToPath(new URL('./walk.ts', import.meta.url));
      // The checkout must be readable by 'nobody' for the child to load walk.ts; a
      // clone under a private home (e.g. /root, mode 700) is not, and then this one
      // fault cannot be staged as root: skip it rather than fake it.
      const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(walkTs)})`], { uid: 65534, gid: 65534 });
      if (probe.status !== 0) {
        console.warn(`skipped: 'nobody' cannot read ${walkTs}, so EACCES cannot be staged as root here`);
        ctx.skip();
      }
      const script = `import { walkTree } from ${JSON.stringify(walkTs)};
try { walkTree(${JSON.stringify(dir)}); console.log('NO ERROR'); }
catch (e) { console.log(e.code + ' ' + e.message); }`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        uid: 65534,
        gid: 65534,
        cwd: path.dirname(walkTs),
        encoding: 'utf8',
        env: { ...process.env, HOME: tmpdir() },
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^INVALID_INPUT cannot list directory .*data\/locked.*\(EACCES\)/);
    } finally {
      chmodSync(locked, 0o755);
      rmSync(locked, { recursive: true });
    }
  });

  it('walks 20,000 files in 100 folders (its speed is measured in tools/bench, not here)', () => {
    const big = mkdtempSync(path.join(tmpdir(), 'cairn-walk-big-'));
    try {
      for (let d = 0; d < 100; d++) {
        mkdirSync(path.join(big, `d${d}`));
        for (let f = 0; f < 200; f++) writeFileSync(path.join(big, `d${d}`, `f${f}`), '');
      }
      const r = walkTree(big);
      expect(r.entries).toHaveLength(20_100);
      expect(r.entries.filter((e) => e.kind === 'file')).toHaveLength(20_000);
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  });
});

describe('walk → stat cache → tree', () => {
  it('snapshots a real directory and rereads only what changed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cairn-e2e-'));
    const state = mkdtempSync(path.join(tmpdir(), 'cairn-e2e-state-'));
    try {
      mkdirSync(path.join(dir, 'a/empty'), { recursive: true });
      writeFileSync(path.join(dir, 'a/one'), 'one');
      writeFileSync(path.join(dir, 'two'), 'two!');
      symlinkSync('a/one', path.join(dir, 'ln'));
      // Old mtimes, so the entries are outside the racy window and can be trusted.
      const old = new Date(Date.now() - 3600_000);
      for (const f of ['a/one', 'two']) utimesSync(path.join(dir, f), old, old);

      const blobs = new Map<string, Uint8Array>();
      const put = async (b: Uint8Array) => {
        const id = createHash('sha256').update(b).digest('hex');
        blobs.set(id, b);
        return id;
      };
      const get = async (id: string) => blobs.get(id)!;

      const snapshot = async () => {
        const cache = await StatCache.open(state, dir);
        const reads: string[] = [];
        const files: BuildInput[] = [];
        const dirs: string[] = [];
        const w = walkTree(dir);
        for (const e of w.entries) {
          if (e.kind === 'dir') {
            if (e.empty) dirs.push(e.path);
          } else if (e.kind === 'symlink') {
            files.push({ path: e.path, entry: { kind: 'symlink', name: '', target: readlinkSync(e.abs) } });
          } else {
            const st = statFile(e.abs);
            let chunks = cache.lookup(e.path, st);
            if (!chunks) {
              reads.push(e.path);
              const bytes = readFileSync(e.abs);
              chunks = bytes.length ? [await put(bytes)] : [];
              cache.record(e.path, st, chunks);
            }
            files.push({ path: e.path, entry: { kind: 'file', name: '', mode: st.mode, size: st.size, mtimeMs: st.mtimeMs, chunks } });
          }
        }
        cache.prune(w.entries.map((e) => e.path));
        await cache.save();
        return { ...(await buildTree(files, put, { dirs })), reads };
      };

      const first = await snapshot();
      expect(first.reads.sort()).toEqual(['a/one', 'two']);
      expect(first).toMatchObject({ files: 3, bytes: 7 });
      const second = await snapshot();
      expect(second.reads).toEqual([]);
      expect(second.rootId).toBe(first.rootId);

      writeFileSync(path.join(dir, 'two'), 'TWO!');
      utimesSync(path.join(dir, 'two'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      const third = await snapshot();
      expect(third.reads).toEqual(['two']);
      expect(third.rootId).not.toBe(first.rootId);
      const listed: string[] = [];
      for await (const r of readTree(third.rootId, get)) listed.push(`${r.path}:${r.entry.kind}`);
      expect(listed).toEqual(['a/empty:dir', 'a/one:file', 'ln:symlink', 'two:file']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    }
  });
});
