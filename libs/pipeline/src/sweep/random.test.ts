import { describe, expect, it } from 'vitest';
import { randomStrategy, sampleParam } from './random.ts';
import { parseSearchSpace } from './space.ts';

const space = parseSearchSpace({
  lr: { type: 'loguniform', min: 1e-4, max: 1e-1 },
  units: { type: 'int', min: 8, max: 128, step: 8 },
  odd: { type: 'int', min: 1, max: 10, step: 3 },
  opt: { type: 'choice', values: ['adam', 'sgd', 'rmsprop'] },
  dropout: { type: 'uniform', min: 0, max: 0.5 },
});

const N = 4000;
const draws = (() => {
  const s = randomStrategy(space, 42);
  return Array.from({ length: N }, (_, i) => s.propose({ index: i }));
})();

describe('random strategy', () => {
  it('keeps every value within its bounds and type', () => {
    const bad = draws.filter(
      (p) =>
        Object.keys(p).join() !== 'dropout,lr,odd,opt,units' ||
        !((p.dropout as number) >= 0 && (p.dropout as number) <= 0.5) ||
        !((p.lr as number) >= 1e-4 && (p.lr as number) <= 1e-1) ||
        !['adam', 'sgd', 'rmsprop'].includes(p.opt as string),
    );
    expect(bad).toEqual([]);
  });

  it('draws ints on the step lattice, reaching both ends', () => {
    const units = new Set(draws.map((p) => p.units as number));
    expect([...units].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => 8 + 8 * i));
    // 1, 4, 7, 10: max is on the lattice
    expect([...new Set(draws.map((p) => p.odd))].sort((a, b) => (a as number) - (b as number))).toEqual([1, 4, 7, 10]);
    const oddOff = parseSearchSpace({ n: { type: 'int', min: 0, max: 10, step: 4 } });
    const s = randomStrategy(oddOff, 1);
    const seen = new Set(Array.from({ length: 500 }, (_, i) => s.propose({ index: i }).n));
    expect([...seen].sort()).toEqual([0, 4, 8]);
  });

  it('samples loguniform uniformly in the logarithm', () => {
    // Each decade of 1e-4..1e-1 should hold about a third of the draws; a linear sampler
    // would put ~99.9% in the last decade.
    const decades = [0, 0, 0];
    for (const p of draws) decades[Math.min(2, Math.floor(Math.log10(p.lr as number) + 4))]! += 1;
    for (const d of decades) expect(d / N).toBeGreaterThan(0.3);
    for (const d of decades) expect(d / N).toBeLessThan(0.37);
  });

  it('samples uniform, ints and choices evenly', () => {
    const lowHalf = draws.filter((p) => (p.dropout as number) < 0.25).length / N;
    expect(lowHalf).toBeGreaterThan(0.47);
    expect(lowHalf).toBeLessThan(0.53);
    for (const opt of ['adam', 'sgd', 'rmsprop']) {
      const share = draws.filter((p) => p.opt === opt).length / N;
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.37);
    }
    for (const end of [8, 128]) {
      const share = draws.filter((p) => p.units === end).length / N;
      expect(share).toBeGreaterThan(0.04); // 1/16 = 0.0625
      expect(share).toBeLessThan(0.085);
    }
  });

  it('is reproducible from the seed, per index, in any proposal order', () => {
    const again = randomStrategy(space, 42);
    expect(again.propose({ index: 17 })).toEqual(draws[17]);
    expect(again.propose({ index: 3 })).toEqual(draws[3]);
    expect(again.propose({ index: 17 })).toEqual(draws[17]);
    const other = randomStrategy(space, 43);
    expect(other.propose({ index: 17 })).not.toEqual(draws[17]);
    // and it ignores history
    expect(again.propose({ index: 5, history: [{ params: draws[0]!, value: 1, status: 'finished' }] })).toEqual(draws[5]);
  });

  it('does not depend on the key order of the space', () => {
    const reordered = Object.fromEntries(Object.entries(space).reverse());
    const s = randomStrategy(reordered, 42);
    expect(s.propose({ index: 9 })).toEqual(draws[9]);
  });

  it('rarely repeats continuous params', () => {
    expect(new Set(draws.map((p) => p.lr)).size).toBe(N);
  });
});

describe('sampleParam', () => {
  it('maps u to the documented values', () => {
    const u = (x: number) => () => x;
    expect(sampleParam({ type: 'uniform', min: 2, max: 4 }, u(0.5))).toBe(3);
    expect(sampleParam({ type: 'loguniform', min: 1, max: 100 }, u(0.5))).toBeCloseTo(10, 10);
    expect(sampleParam({ type: 'int', min: 0, max: 10, step: 5 }, u(0.999))).toBe(10);
    expect(sampleParam({ type: 'int', min: 0, max: 10, step: 5 }, u(0))).toBe(0);
    expect(sampleParam({ type: 'choice', values: ['a', 'b'] }, u(0.5))).toBe('b');
  });
});
