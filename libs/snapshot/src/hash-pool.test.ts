import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.ts';
import { chunkBoundaries } from './fastcdc.ts';
import { hashBytes } from './hash.ts';
import { HashPool } from './hash-pool.ts';

const dir = mkdtempSync(join(tmpdir(), 'cairn-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function prng(size: number, seed: number): Uint8Array {
  const b = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0)).update(Buffer.alloc(size));
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

describe('HashPool', () => {
  it('chunks files on workers, writes their blobs, and matches in-thread chunking', async () => {
    const storeRoot = join(dir, 'blobs');
    const files = [
      { name: 'empty', bytes: new Uint8Array() },
      { name: 'small', bytes: prng(1000, 1) },
      { name: 'limit', bytes: prng(4 * 1024 * 1024, 2) },
      { name: 'big', bytes: prng(21 * 1024 * 1024 + 3, 3) },
    ];
    for (const f of files) writeFileSync(join(dir, f.name), f.bytes);
    const pool = new HashPool({ storeRoot, workers: 2 });
    try {
      const results = await Promise.all(files.map((f) => pool.hash(join(dir, f.name))));
      const store = new LocalBlobStore(storeRoot);
      for (const [i, f] of files.entries()) {
        const r = results[i]!;
        const p = join(dir, f.name);
        expect(r.path).toBe(p);
        expect(r.size).toBe(f.bytes.length);
        expect(r.mtimeMs).toBe(statSync(p).mtimeMs);
        const ends = f.bytes.length > 4 * 1024 * 1024 ? chunkBoundaries(f.bytes) : f.bytes.length ? [f.bytes.length] : [];
        const expected = ends.map((e, k) => hashBytes(f.bytes.subarray(ends[k - 1] ?? 0, e)));
        expect(r.chunks).toEqual(expected);
        expect(r.chunkSizes).toEqual(ends.map((e, k) => e - (ends[k - 1] ?? 0)));
        for (const id of r.chunks) expect(await store.has(id)).toBe(true);
      }
      expect(results[3]!.chunks.length).toBeGreaterThan(5);

      const err = await pool.hash(join(dir, 'missing')).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ENOENT');
      // The pool keeps working after a failed job.
      expect((await pool.hash(join(dir, 'small'))).chunks).toEqual(results[1]!.chunks);
    } finally {
      await pool.close();
    }
    await expect(pool.hash(join(dir, 'small'))).rejects.toThrow(/closed/);
  });

  it('starts its workers from any working directory (the CLI runs in the user\'s folder)', () => {
    writeFileSync(join(dir, 'elsewhere.bin'), prng(5000, 9));
    const pool = fileURLToPath(new URL('./hash-pool.ts', import.meta.url));
    const script = `import { HashPool } from ${JSON.stringify(pool)};
const p = new HashPool({ storeRoot: ${JSON.stringify(join(dir, 'elsewhere-blobs'))}, workers: 1 });
const r = await p.hash(${JSON.stringify(join(dir, 'elsewhere.bin'))});
await p.close();
console.log(r.chunks[0]);`;
    // cwd is a folder with no node_modules anywhere above it.
    const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], { cwd: '/', encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(hashBytes(prng(5000, 9)));
  });
});
