import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CDC_MAX, CDC_MIN, FastCdc, GEAR, SINGLE_CHUNK_LIMIT, chunkBoundaries, type CdcParams } from './fastcdc.ts';
import { hashBytes } from './hash.ts';

/** Deterministic pseudo-random bytes (AES-CTR keystream), so failures reproduce. */
function prng(size: number, seed = 7): Uint8Array {
  const c = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16, 0));
  const b = c.update(Buffer.alloc(size));
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function chunkIds(bytes: Uint8Array, ends: number[]): string[] {
  return ends.map((end, i) => hashBytes(bytes.subarray(ends[i - 1] ?? 0, end)));
}

function sizes(ends: number[]): number[] {
  return ends.map((end, i) => end - (ends[i - 1] ?? 0));
}

describe('frozen format', () => {
  it('keeps the gear table', () => {
    expect(GEAR.length).toBe(256);
    expect([GEAR[0], GEAR[1], GEAR[128], GEAR[255]]).toEqual(PINNED_GEAR);
    expect(hashBytes(new TextEncoder().encode(Array.from(GEAR).join(',')))).toBe(PINNED_GEAR_DIGEST);
  });

  it('keeps the boundaries of a known input', () => {
    expect(chunkBoundaries(prng(16 << 20))).toEqual([
      1162475, 2214468, 2718564, 3793101, 4934365, 6057848, 7149833, 8284140, 9409444, 10462763, 11092987, 12230508,
      13348074, 14338973, 15553431, 16605779, 16777216,
    ]);
  });

  it('exports a 4 MiB single-chunk limit', () => {
    expect(SINGLE_CHUNK_LIMIT).toBe(4 * 1024 * 1024);
  });
});

describe('chunkBoundaries', () => {
  const data = prng(64 << 20, 3);
  const ends = chunkBoundaries(data);

  it('is deterministic and covers the input', () => {
    expect(chunkBoundaries(data)).toEqual(ends);
    expect(ends.at(-1)).toBe(data.length);
    expect(ends.length).toBeGreaterThan(30);
  });

  it('keeps every chunk but the last within [min, max]', () => {
    const s = sizes(ends);
    for (const size of s.slice(0, -1)) {
      expect(size).toBeGreaterThanOrEqual(CDC_MIN);
      expect(size).toBeLessThanOrEqual(CDC_MAX);
    }
    expect(s.at(-1)!).toBeLessThanOrEqual(CDC_MAX);
  });

  it('re-aligns after a 100-byte insertion near the start', () => {
    const edited = new Uint8Array(data.length + 100);
    const at = 1000;
    edited.set(data.subarray(0, at), 0);
    edited.set(prng(100, 9), at);
    edited.set(data.subarray(at), at + 100);
    const before = new Set(chunkIds(data, ends));
    const after = chunkIds(edited, chunkBoundaries(edited));
    const changed = after.filter((id) => !before.has(id));
    expect(changed.length).toBeGreaterThanOrEqual(1);
    expect(changed.length).toBeLessThanOrEqual(2);
  });

  it('adds the offset to every end', () => {
    const small = data.subarray(0, 8 << 20);
    expect(chunkBoundaries(small, 1000)).toEqual(chunkBoundaries(small).map((e) => e + 1000));
  });

  it('returns no chunk for empty input and one for a short one', () => {
    expect(chunkBoundaries(new Uint8Array())).toEqual([]);
    expect(chunkBoundaries(data.subarray(0, 10))).toEqual([10]);
  });

  it('cuts a run of identical bytes at max', () => {
    const zeros = new Uint8Array(CDC_MAX * 2 + 5);
    const e = chunkBoundaries(zeros);
    expect(sizes(e).slice(0, -1).every((s) => s >= CDC_MIN && s <= CDC_MAX)).toBe(true);
    expect(e.at(-1)).toBe(zeros.length);
  });

  it('streams in arbitrary read sizes with the same boundaries', () => {
    const part = data.subarray(0, 24 << 20);
    const expected = chunkBoundaries(part);
    for (const step of [1 << 20, 4 << 20, 777_777, 5_000_001]) {
      const cdc = new FastCdc();
      const got: number[] = [];
      for (let o = 0; o < part.length; o += step) got.push(...cdc.push(part.subarray(o, o + step)));
      got.push(...cdc.finish());
      expect(got).toEqual(expected);
    }
  });
});

describe('small parameters (property)', () => {
  const paramsArb = fc
    .record({ avgBits: fc.integer({ min: 4, max: 9 }), minDiv: fc.integer({ min: 1, max: 8 }), maxMul: fc.integer({ min: 1, max: 8 }) })
    .map(({ avgBits, minDiv, maxMul }): CdcParams => {
      const avg = 2 ** avgBits;
      return { min: Math.max(1, Math.floor(avg / minDiv)), avg, max: avg * maxMul };
    });

  it('sizes stay in range and streaming equals one-shot', () => {
    fc.assert(
      fc.property(
        paramsArb,
        fc.uint8Array({ maxLength: 6000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
        (params, bytes, steps) => {
          const ends = chunkBoundaries(bytes, 0, params);
          if (bytes.length === 0) return ends.length === 0;
          expect(ends.at(-1)).toBe(bytes.length);
          const s = sizes(ends);
          s.slice(0, -1).forEach((size) => {
            expect(size).toBeGreaterThanOrEqual(params.min);
            expect(size).toBeLessThanOrEqual(params.max);
          });
          expect(s.at(-1)!).toBeGreaterThan(0);
          expect(s.at(-1)!).toBeLessThanOrEqual(params.max);

          const cdc = new FastCdc(params);
          const got: number[] = [];
          let o = 0;
          for (let k = 0; o < bytes.length; k++) {
            const step = steps[k % steps.length]!;
            got.push(...cdc.push(bytes.subarray(o, o + step)));
            o += step;
          }
          got.push(...cdc.finish());
          expect(got).toEqual(ends);
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same boundaries for a Buffer (with a byteOffset) as for a plain Uint8Array', () => {
    const bytes = prng(3 * CDC_MAX + 12345, 11);
    const backing = Buffer.alloc(bytes.length + 13);
    backing.set(bytes, 13);
    const buf = backing.subarray(13);
    expect(chunkBoundaries(buf)).toEqual(chunkBoundaries(bytes));
    const small: CdcParams = { min: 3, avg: 16, max: 61 };
    const tiny = prng(5000, 12);
    const cdc = new FastCdc(small);
    const streamed: number[] = [];
    for (let o = 0; o < tiny.length; o += 97) streamed.push(...cdc.push(Buffer.from(tiny.subarray(o, o + 97))));
    streamed.push(...cdc.finish());
    expect(streamed).toEqual(chunkBoundaries(tiny, 0, small));
  });

  it('rejects invalid parameters', () => {
    expect(() => new FastCdc({ min: 10, avg: 100, max: 1000 })).toThrow(RangeError);
    expect(() => new FastCdc({ min: 200, avg: 128, max: 1000 })).toThrow(RangeError);
    expect(() => new FastCdc({ min: 10, avg: 128, max: 64 })).toThrow(RangeError);
  });
});

const PINNED_GEAR = [1528039596, 1339094678, -1252209112, -2014204593];
const PINNED_GEAR_DIGEST = 'c755fc9011d781818dc202350d2359dea2f7a8fa32d9628b7f9ac39c20f5c768';
