import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CairnError } from '@cairn/schema';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore, defaultBlobRoot } from './blob-store.ts';
import { BlobCorruptError, BlobNotFoundError, InvalidBlobIdError } from './errors.ts';
import { hashBytes } from './hash.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-blobs-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshRoot = () => join(base, `store${n++}`);
const fixture = fileURLToPath(new URL('./fixtures/put-blob.ts', import.meta.url));

/** Same bytes as the fixture generates for (size, seed). */
function prng(size: number, seed: number): Uint8Array {
  const b = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0)).update(Buffer.alloc(size));
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out.sort();
}

function tmpFiles(root: string): string[] {
  const d = join(root, 'tmp');
  return existsSync(d) ? readdirSync(d) : [];
}

describe('LocalBlobStore', () => {
  it('round-trips blobs in a fan-out layout', async () => {
    const root = freshRoot();
    const s = new LocalBlobStore(root);
    const a = new TextEncoder().encode('hello');
    const id = await s.put(a);
    expect(id).toBe(hashBytes(a));
    expect(existsSync(join(root, id.slice(0, 2), id.slice(2)))).toBe(true);
    expect(await s.has(id)).toBe(true);
    expect(await s.size(id)).toBe(5);
    expect(Buffer.from(await s.get(id)).toString()).toBe('hello');
    const empty = await s.put(new Uint8Array());
    expect(await s.size(empty)).toBe(0);
    expect(await collect(s.list())).toEqual([id, empty].sort());
    expect(tmpFiles(root)).toEqual([]);
    await s.delete(id);
    await s.delete(id);
    expect(await s.has(id)).toBe(false);
    expect(await s.size(id)).toBeNull();
    expect(await collect(s.list())).toEqual([empty]);
  });

  it('skips a put whose blob is present', async () => {
    const s = new LocalBlobStore(freshRoot());
    const bytes = prng(1000, 2);
    const id = await s.put(bytes);
    const p = s.pathOf(id);
    const old = new Date(Date.now() - 60_000);
    utimesSync(p, old, old);
    const before = statSync(p);
    expect(await s.put(bytes)).toBe(id);
    await s.putKnown(id, bytes);
    // Not rewritten (same inode, no temp file), only marked as used for gc's grace period.
    const after = statSync(p);
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBeGreaterThan(before.mtimeMs);
    expect(tmpFiles(s.root)).toEqual([]);
  });

  it('lists nothing for a missing root and ignores temp and foreign files', async () => {
    const root = freshRoot();
    const s = new LocalBlobStore(root);
    expect(await collect(s.list())).toEqual([]);
    const id = await s.put(prng(10, 3));
    mkdirSync(join(root, 'tmp'), { recursive: true });
    writeFileSync(join(root, 'tmp', `${'f'.repeat(24)}.tmp`), 'partial');
    writeFileSync(join(root, id.slice(0, 2), 'notes.txt'), 'x');
    writeFileSync(join(root, 'zz'), 'x');
    mkdirSync(join(root, 'AB'));
    writeFileSync(join(root, 'AB', 'c'.repeat(62)), 'x');
    expect(await collect(s.list())).toEqual([id]);
  });

  it('throws BlobCorruptError naming the id when a stored byte flips', async () => {
    const s = new LocalBlobStore(freshRoot());
    const bytes = prng(100_000, 4);
    const id = await s.put(bytes);
    const p = s.pathOf(id);
    const stored = readFileSync(p);
    stored[50_000] = stored[50_000]! ^ 0x01;
    rmSync(p);
    writeFileSync(p, stored);
    const err = await s.get(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobCorruptError);
    expect(err).toBeInstanceOf(CairnError);
    const c = err as BlobCorruptError;
    expect(c.code).toBe('STORE_DAMAGED');
    expect(c.id).toBe(id);
    expect(c.expected).toBe(id);
    expect(c.actual).toBe(hashBytes(stored));
    expect(c.message).toContain(id);
    // Unverified reads return the damaged bytes, for salvage tools.
    expect(Buffer.from(await s.get(id, { verify: false })).equals(stored)).toBe(true);
  });

  it('throws BlobNotFoundError for an absent blob', async () => {
    const s = new LocalBlobStore(freshRoot());
    const id = 'a'.repeat(64);
    const err = await s.get(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobNotFoundError);
    expect((err as BlobNotFoundError).code).toBe('NOT_FOUND');
    expect((err as Error).message).toContain(id);
  });

  it('rejects invalid ids before touching the filesystem', async () => {
    const root = freshRoot();
    const s = new LocalBlobStore(root);
    const bad = ['../x', '../../etc/passwd', 'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), `${'a'.repeat(62)}/x`, ''];
    for (const id of bad) {
      for (const call of [() => s.get(id), () => s.has(id), () => s.size(id), () => s.delete(id), () => s.putKnown(id, new Uint8Array(1))]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidBlobIdError);
        expect((err as InvalidBlobIdError).code).toBe('INVALID_INPUT');
      }
    }
    expect(existsSync(root)).toBe(false);
  });

  it('removes only stale temp files', async () => {
    const root = freshRoot();
    const s = new LocalBlobStore(root);
    expect(await s.cleanupTemp(0)).toBe(0);
    mkdirSync(join(root, 'tmp'), { recursive: true });
    const stale = join(root, 'tmp', 'a1.tmp');
    const fresh = join(root, 'tmp', 'b2.tmp');
    writeFileSync(stale, 'x');
    writeFileSync(fresh, 'x');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(stale, old, old);
    expect(await s.cleanupTemp(60_000)).toBe(1);
    expect(tmpFiles(root)).toEqual(['b2.tmp']);
  });

  it('defaults to <home>/blobs, home defaulting to ./.cairn', () => {
    expect(defaultBlobRoot('/x/home')).toBe('/x/home/blobs');
    expect(defaultBlobRoot()).toBe(join(process.cwd(), '.cairn', 'blobs'));
  });
});

describe('LocalBlobStore under failure', () => {
  it('leaves no blob behind when the writer is SIGKILLed mid-put, and the next put succeeds', async () => {
    const root = freshRoot();
    const size = 256 * 1024 * 1024;
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, root, String(size), '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
    // Kill only once a temp file is partly written, so the kill provably lands mid-write.
    // The child first starts tsx, generates and hashes 256 MiB; under CI load (two test
    // processes on two cores) that alone took over 30 s once, so the wait is generous.
    let seen = -1;
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const names = tmpFiles(root);
      const sizeNow = names.length === 1 ? statSync(join(root, 'tmp', names[0]!), { throwIfNoEntry: false })?.size ?? 0 : 0;
      if (sizeNow > 0 && sizeNow < size) {
        seen = sizeNow;
        child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await exited, stderr).toBe('SIGKILL');
    expect(seen, 'the kill did not land mid-write').toBeGreaterThan(0);

    const bytes = prng(size, 5);
    const id = hashBytes(bytes);
    const s = new LocalBlobStore(root);
    expect(existsSync(join(root, id.slice(0, 2), id.slice(2)))).toBe(false);
    expect(await s.has(id)).toBe(false);
    expect(await collect(s.list())).toEqual([]);
    expect(tmpFiles(root)).toHaveLength(1);

    expect(await s.put(bytes)).toBe(id);
    expect(await s.size(id)).toBe(size);
    expect(await s.cleanupTemp(0)).toBe(1);
    expect(tmpFiles(root)).toEqual([]);
    expect((await s.get(id)).length).toBe(size);
  }, 240_000);

  it('reports a failed write clearly and leaves nothing behind (real EFBIG from a file-size limit)', async () => {
    const root = freshRoot();
    const size = 8 * 1024 * 1024;
    // RLIMIT_FSIZE makes the kernel fail write() past the limit; ignoring SIGXFSZ turns the
    // signal into an EFBIG error, the same path a full disk (ENOSPC) takes. Running as root
    // here, permission bits cannot be used to make a write fail.
    const script = 'trap "" XFSZ; ulimit -f 1024; exec "$0" "$@"';
    const child = spawn('sh', ['-c', script, process.execPath, '--import', 'tsx', fixture, root, String(size), '6'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect(code, `${out}\n${stderr}`).toBe(1);
    const { error } = JSON.parse(out) as { error: { name: string; code: string; errno: string; message: string } };
    const id = hashBytes(prng(size, 6));
    expect(error.name).toBe('BlobWriteError');
    expect(error.code).toBe('STORE_DAMAGED');
    expect(error.errno).toBe('EFBIG');
    expect(error.message).toContain(id);
    expect(error.message).toContain('EFBIG');

    const s = new LocalBlobStore(root);
    expect(await s.has(id)).toBe(false);
    expect(tmpFiles(root)).toEqual([]);
    expect(await s.put(prng(size, 6))).toBe(id);
  });
});

describe('touch', () => {
  it('refreshes the mtime of a reused blob (gc grace) and reports absent ones', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cairn-touch-'));
    try {
      const store = new LocalBlobStore(root);
      const id = await store.put(new TextEncoder().encode('reused chunk'));
      const old = new Date(Date.now() - 3_600_000);
      utimesSync(store.pathOf(id), old, old);
      await store.putKnown(id, new TextEncoder().encode('reused chunk'));
      expect(Date.now() - statSync(store.pathOf(id)).mtimeMs).toBeLessThan(60_000);
      expect(await store.touch('0'.repeat(64))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
