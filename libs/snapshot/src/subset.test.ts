import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashBytes } from './hash.ts';
import { inSubset, subsetPosition, subsetRows } from './subset.ts';

const ids = (count: number, prefix = 'rec-') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

describe('subsetPosition', () => {
  it('follows the documented formula and stays in [0, 1)', () => {
    const h = hashBytes(Buffer.from('s1abc', 'utf8'));
    expect(subsetPosition('abc', 's1')).toBe(parseInt(h.slice(0, 13), 16) / 2 ** 52);
    fc.assert(
      fc.property(fc.string(), fc.string(), (id, salt) => {
        const u = subsetPosition(id, salt);
        return u >= 0 && u < 1;
      }),
    );
  });
});

describe('inSubset', () => {
  it('chooses the same records every time', () => {
    const all = ids(5_000);
    const a = all.filter((id) => inSubset(id, 0.1, 'day'));
    const b = all.filter((id) => inSubset(id, 0.1, 'day'));
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(0);
  });

  it('selects close to the fraction over 100k ids', () => {
    const all = ids(100_000);
    // Binomial sd at n=100k: 1% → 0.031%, 10% → 0.095%, 50% → 0.16%; bounds are over 6 sd.
    for (const [f, tol] of [
      [0.01, 0.002],
      [0.1, 0.006],
      [0.5, 0.01],
    ] as const) {
      const share = all.filter((id) => inSubset(id, f)).length / all.length;
      expect(Math.abs(share - f)).toBeLessThan(tol);
    }
    // A different salt is a different, equally sized draw.
    const a = new Set(all.filter((id) => inSubset(id, 0.01, 'a')));
    const b = all.filter((id) => inSubset(id, 0.01, 'b'));
    const overlap = b.filter((id) => a.has(id)).length;
    expect(Math.abs(b.length / all.length - 0.01)).toBeLessThan(0.002);
    // Independent draws overlap in about 1% of 1% of 100k = 10 ids.
    expect(overlap).toBeLessThan(40);
  });

  it('keeps every existing record’s membership when records are added', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { maxLength: 50 }), fc.uniqueArray(fc.string(), { maxLength: 50 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.string(), (before, added, f, salt) => {
        const chosenBefore = subsetRows(before, (x) => x, f, salt);
        const chosenAfter = new Set(subsetRows([...before, ...added], (x) => x, f, salt));
        for (const id of before) expect(chosenAfter.has(id)).toBe(chosenBefore.includes(id));
      }),
    );
  });

  it('nests: the subset at a smaller fraction is inside the one at a larger', () => {
    fc.assert(
      fc.property(fc.string(), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (id, x, y) => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        if (inSubset(id, lo)) expect(inSubset(id, hi)).toBe(true);
      }),
    );
  });

  it('selects nothing at 0 and everything at 1', () => {
    const all = ids(2_000);
    expect(all.filter((id) => inSubset(id, 0))).toEqual([]);
    expect(all.filter((id) => inSubset(id, 1))).toEqual(all);
    expect(subsetRows(all, (x) => x, 0)).toEqual([]);
    expect(subsetRows(all, (x) => x, 1)).toEqual(all);
    expect(inSubset('', 1)).toBe(true);
  });

  it('rejects a fraction outside [0, 1] or not a number', () => {
    for (const f of [-0.1, 1.01, Number.NaN, Number.POSITIVE_INFINITY, '0.5' as unknown as number]) {
      expect(() => inSubset('x', f)).toThrow(RangeError);
      expect(() => subsetRows([], (x: string) => x, f)).toThrow(RangeError);
    }
  });
});

describe('subsetRows', () => {
  it('keeps the original order and agrees with inSubset', () => {
    const rows = ids(3_000).map((id, i) => ({ id, i }));
    const chosen = subsetRows(rows, (r) => r.id, 0.2, 'v1');
    expect(chosen.map((r) => r.i)).toEqual([...chosen.map((r) => r.i)].sort((a, b) => a - b));
    expect(chosen).toEqual(rows.filter((r) => inSubset(r.id, 0.2, 'v1')));
    // Works on any iterable, once through.
    function* gen() {
      yield* rows;
    }
    expect(subsetRows(gen(), (r) => r.id, 0.2, 'v1')).toEqual(chosen);
  });
});
