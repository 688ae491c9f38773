import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { hashBytes, hashFile, isBlobId } from './hash.ts';

const dir = mkdtempSync(join(tmpdir(), 'cairn-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hashBytes', () => {
  it('matches the BLAKE3 reference vectors', () => {
    expect(hashBytes(new Uint8Array())).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
    expect(hashBytes(new TextEncoder().encode('abc'))).toBe('6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
  });

  it('hashes only the view of a subarray', () => {
    const whole = new TextEncoder().encode('xxabcxx');
    expect(hashBytes(whole.subarray(2, 5))).toBe(hashBytes(new TextEncoder().encode('abc')));
  });
});

describe('hashFile', () => {
  it('equals hashBytes of the contents for sizes around the buffer length', () => {
    const buffer = new Uint8Array(1000);
    for (const size of [0, 1, 999, 1000, 1001, 2000, 12_345]) {
      const bytes = randomBytes(size);
      const p = join(dir, `f${size}`);
      writeFileSync(p, bytes);
      expect(hashFile(p, buffer)).toEqual({ id: hashBytes(bytes), size });
    }
  });

  it('uses the 4 MiB default buffer for a file larger than it', () => {
    const bytes = randomBytes(9 * 1024 * 1024 + 7);
    const p = join(dir, 'big');
    writeFileSync(p, bytes);
    const r = hashFile(p);
    expect(r).toEqual({ id: hashBytes(bytes), size: bytes.length });
    expect(isBlobId(r.id)).toBe(true);
  });

  it('throws ENOENT for a missing file', () => {
    expect(() => hashFile(join(dir, 'missing'))).toThrow(/ENOENT/);
  });
});

describe('isBlobId', () => {
  it('accepts only 64 lowercase hex', () => {
    expect(isBlobId('a'.repeat(64))).toBe(true);
    expect(isBlobId('A'.repeat(64))).toBe(false);
    expect(isBlobId('a'.repeat(63))).toBe(false);
    expect(isBlobId(`${'a'.repeat(64)}\n`)).toBe(false);
    expect(isBlobId('../x')).toBe(false);
  });
});
