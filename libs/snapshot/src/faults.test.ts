// Faults staged for real against whole snapshots: a SIGKILLed snapshot process, a write
// limit the kernel enforces (the same error path as a full disk), the leftovers of a
// power loss inside an unsynced batch, a file rewritten while it is read, and a file the
// process may not read.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.ts';
import { checkout } from './checkout.ts';
import { beginUnsyncedBatch, recoverUnsynced } from './durability.ts';
import { FileReadError } from './errors.ts';
import { hashBytes } from './hash.ts';
import { FileChangedError, snapshotDir } from './snapshot.ts';
import { verify } from './verify.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-faults-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(base, `${what}${n++}`);
const fixture = fileURLToPath(new URL('./fixtures/snapshot-dir.ts', import.meta.url));

function prng(size: number, seed: number): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0)).update(Buffer.alloc(size));
}

/** Every blob under its final name, each checked against its name. */
function storedBlobs(root: string): { id: string; ok: boolean }[] {
  const out = [];
  if (!existsSync(root)) return [];
  for (const prefix of readdirSync(root)) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const rest of readdirSync(join(root, prefix))) out.push({ id: prefix + rest, ok: hashBytes(readFileSync(join(root, prefix, rest))) === prefix + rest });
  }
  return out;
}

/** How many blobs are stored, without reading them (cheap enough to poll). */
function countBlobs(root: string): number {
  if (!existsSync(root)) return 0;
  let n = 0;
  for (const prefix of readdirSync(root)) if (/^[0-9a-f]{2}$/.test(prefix)) n += readdirSync(join(root, prefix)).length;
  return n;
}

function markers(root: string): string[] {
  const d = join(root, 'unsynced');
  return existsSync(d) ? readdirSync(d) : [];
}

function makeFiles(dir: string, count: number, size: number, seed: number): void {
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `d${i % 20}`);
    mkdirSync(sub, { recursive: true });
    const b = prng(size, seed);
    b.writeUInt32LE(i, 0);
    writeFileSync(join(sub, `f${i}.bin`), b);
  }
}

function readAll(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name);
    try {
      m.set(name, hashBytes(readFileSync(p)));
    } catch {
      // a folder
    }
  }
  return m;
}

describe('a snapshot process killed mid-way', () => {
  it('leaves only intact blobs under their names, and the next snapshot recovers and completes', async () => {
    const data = fresh('data');
    makeFiles(data, 2000, 16 * 1024, 3);
    const root = fresh('store');
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, data, root, 'always'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
    // Kill once some blobs are stored but well before all 2,000 are.
    let seen = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null) {
      // Counted, not read: hashing every stored blob on each poll slowed the loop so much
      // under a loaded CI machine that the child finished (or the test timed out) first.
      seen = countBlobs(root);
      if (seen >= 100) {
        child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await exited, stderr).toBe('SIGKILL');
    const after = storedBlobs(root);
    expect(after.length, 'the kill landed after the snapshot finished').toBeLessThan(2000);
    expect(after.filter((b) => !b.ok)).toEqual([]);
    // The batch's marker outlives its process: the next opener must check the batch's blobs.
    expect(markers(root)).toHaveLength(1);

    const store = new LocalBlobStore(root);
    const r = await snapshotDir(data, { store });
    expect(r.files).toBe(2000);
    expect(markers(root)).toEqual([]);
    expect(await verify([r.id], { store })).toMatchObject({ corrupt: [], missing: [] });
    const out = fresh('out');
    await checkout(r.id, out, { store });
    expect(readAll(out)).toEqual(readAll(data));
  }, 180_000);
});

describe('a power loss inside an unsynced batch', () => {
  it('is repaired on the next open: blobs written since the marker that do not match are deleted, then stored again', async () => {
    const data = fresh('data');
    makeFiles(data, 10, 8 * 1024, 4);
    const root = fresh('store');
    const store = new LocalBlobStore(root);
    const first = await snapshotDir(data, { store });
    const old = storedBlobs(root).map((b) => b.id);

    // Stage what ext4 leaves after a power loss before the batch's sync: the marker (made
    // durable first) and blobs under their final names whose data never reached the disk.
    // A process that has exited stands for the crashed writer.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const batch = await beginUnsyncedBatch(store);
    const marker = readdirSync(join(root, 'unsynced'))[0]!;
    const m = JSON.parse(readFileSync(join(root, 'unsynced', marker), 'utf8')) as { pid: number };
    writeFileSync(join(root, 'unsynced', marker), JSON.stringify({ ...m, pid: dead }));
    const lost = prng(50_000, 9);
    const lostId = await store.put(lost, { deferSync: batch.deferSync });
    const shortId = await store.put(prng(70_000, 10), { deferSync: batch.deferSync });
    truncateSync(store.pathOf(lostId), 0);
    truncateSync(store.pathOf(shortId), 4096);
    // Blobs older than the marker are not re-read, even when damaged (verify's job, not recovery's).
    const t = Date.now() / 1000 - 3600;
    for (const id of old) utimesSync(store.pathOf(id), t, t);

    const rec = await recoverUnsynced(store);
    expect(rec.markers).toBe(1);
    expect(rec.removed.sort()).toEqual([lostId, shortId].sort());
    expect(rec.checked).toBe(2);
    expect(markers(root)).toEqual([]);
    expect(await store.has(lostId)).toBe(false);
    for (const id of old) expect(await store.has(id)).toBe(true);
    expect(await recoverUnsynced(store)).toEqual({ markers: 0, checked: 0, removed: [] });

    // A live batch's marker is left alone.
    const live = await beginUnsyncedBatch(store);
    expect((await recoverUnsynced(store)).markers).toBe(0);
    await live.commit();
    expect(markers(root)).toEqual([]);

    // The data that was lost is stored again by the next snapshot that has it.
    writeFileSync(join(data, 'lost.bin'), lost);
    const second = await snapshotDir(data, { store });
    expect(second.id).not.toBe(first.id);
    expect((await store.get(lostId)).length).toBe(50_000);
    expect(await verify([first.id, second.id], { store })).toMatchObject({ corrupt: [], missing: [] });
  });
});

describe('a disk that fills up during a snapshot', () => {
  it('fails with a clear error, leaves no damaged blob, and a later snapshot completes', async () => {
    const data = fresh('data');
    mkdirSync(data);
    for (let i = 0; i < 8; i++) writeFileSync(join(data, `small${i}.bin`), prng(4096 + i, 20 + i));
    writeFileSync(join(data, 'big.bin'), prng(3 * 1024 * 1024, 30));
    const root = fresh('store');
    // RLIMIT_FSIZE (1 MiB) fails the big file's blob write with EFBIG once SIGXFSZ is
    // ignored: the same path ENOSPC takes. Root ignores permission bits, so no other
    // write failure can be staged here without a dedicated filesystem.
    const script = 'trap "" XFSZ; ulimit -f 2048; exec "$0" "$@"';
    const r = spawnSync('sh', ['-c', script, process.execPath, '--import', 'tsx', fixture, data, root, 'never'], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(1);
    const { error } = JSON.parse(r.stdout) as { error: { name: string; code: string; message: string } };
    expect(error.name).toBe('BlobWriteError');
    expect(error.code).toBe('STORE_DAMAGED');
    expect(error.message).toContain('EFBIG');
    expect(error.message).toContain(hashBytes(prng(3 * 1024 * 1024, 30)));
    expect(storedBlobs(root).filter((b) => !b.ok)).toEqual([]);
    expect(existsSync(join(root, 'tmp')) ? readdirSync(join(root, 'tmp')) : []).toEqual([]);
    // The failing snapshot flushed what it wrote and removed its marker.
    expect(markers(root)).toEqual([]);

    const store = new LocalBlobStore(root);
    const ok = await snapshotDir(data, { store });
    expect(ok.files).toBe(9);
    expect(await verify([ok.id], { store })).toMatchObject({ corrupt: [], missing: [] });
  });
});

describe('a file rewritten while the snapshot reads it', () => {
  it('is retried once and then reported by name, with no snapshot id returned', async () => {
    const data = fresh('data');
    mkdirSync(data);
    writeFileSync(join(data, 'steady.bin'), prng(1000, 1));
    const busy = join(data, 'busy.bin');
    writeFileSync(busy, prng(24 * 1024 * 1024, 2));
    // A separate process keeps appending, so every read of the file sees it move. It says
    // so once it has appended: node takes from tens of ms to seconds to start, and a
    // snapshot that began before the first append read a still file (1 run in 3 failed).
    const script = `const fs=require('fs');const p=${JSON.stringify(busy)};fs.appendFileSync(p,'x');process.stdout.write('appending\\n');setInterval(()=>fs.appendFileSync(p,'x'),1);`;
    const writer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let said = '';
        writer.stdout!.on('data', (d: Buffer) => (said += d.toString()).includes('appending\n') && resolve());
        writer.once('exit', (code) => reject(new Error(`the appending process exited with ${code} before it started`)));
      });
      for (const pool of ['never', 'always'] as const) {
        const err = await snapshotDir(data, { store: new LocalBlobStore(fresh('store')), pool }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FileChangedError);
        expect((err as FileChangedError).path).toBe('busy.bin');
        expect((err as Error).message).toMatch(/changed while it was being read/);
      }
    } finally {
      writer.kill('SIGKILL');
    }
  });
});

describe('an unreadable file', () => {
  it('stops the snapshot with an error naming it', (ctx) => {
    const data = fresh('data');
    mkdirSync(data);
    writeFileSync(join(data, 'ok.txt'), 'fine');
    writeFileSync(join(data, 'secret.txt'), 'no');
    chmodSync(data, 0o755);
    chmodSync(base, 0o755);
    chmodSync(join(data, 'secret.txt'), 0o000);
    const root = fresh('store');
    const isRoot = process.getuid?.() === 0;
    // Root reads through mode 000, so the snapshot runs in a child as 'nobody' (uid 65534):
    // the EACCES is the kernel's. That needs the checkout readable by 'nobody'.
    const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(fixture)})`], isRoot ? { uid: 65534, gid: 65534 } : {});
    if (probe.status !== 0) {
      console.warn(`skipped: 'nobody' cannot read ${fixture}, so EACCES cannot be staged as root here`);
      ctx.skip();
    }
    mkdirSync(root, { mode: 0o777 });
    chmodSync(root, 0o777);
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, data, root, 'never'], {
      ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
      encoding: 'utf8',
      cwd: dirname(fixture),
      env: { ...process.env, HOME: tmpdir() },
    });
    expect(r.status, r.stderr).toBe(1);
    const { error } = JSON.parse(r.stdout) as { error: { name: string; code: string; message: string } };
    expect(error.name).toBe(FileReadError.name);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toMatch(/cannot read file "secret\.txt" \(EACCES\): permission denied/);
  });
});
