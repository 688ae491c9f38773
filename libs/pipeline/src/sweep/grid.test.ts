import { describe, expect, it } from 'vitest';
import { ValidationError } from '@cairn/schema';
import { gridSize, gridStrategy, gridValues } from './grid.ts';
import { type Params, parseSearchSpace } from './space.ts';
import { createStrategy } from './strategies.ts';

describe('gridValues', () => {
  it('discretises uniform evenly, both ends included', () => {
    expect(gridValues({ type: 'uniform', min: 0, max: 0.5 })).toEqual([0, 0.125, 0.25, 0.375, 0.5]);
    expect(gridValues({ type: 'uniform', min: -1, max: 1 }, 3)).toEqual([-1, 0, 1]);
    expect(gridValues({ type: 'uniform', min: 0, max: 1 }, 2)).toEqual([0, 1]);
  });

  it('discretises loguniform evenly in the logarithm, without float noise', () => {
    expect(gridValues({ type: 'loguniform', min: 1e-4, max: 1e-1 }, 4)).toEqual([1e-4, 1e-3, 1e-2, 1e-1]);
    expect(gridValues({ type: 'loguniform', min: 1, max: 16 }, 5)).toEqual([1, 2, 4, 8, 16]);
  });

  it('enumerates every int on the step lattice, and every choice in order', () => {
    expect(gridValues({ type: 'int', min: 8, max: 128, step: 8 })).toEqual(Array.from({ length: 16 }, (_, i) => 8 + 8 * i));
    expect(gridValues({ type: 'int', min: 0, max: 10, step: 4 })).toEqual([0, 4, 8]);
    expect(gridValues({ type: 'int', min: -2, max: 1 })).toEqual([-2, -1, 0, 1]);
    expect(gridValues({ type: 'choice', values: ['sgd', 'adam', true, 3] })).toEqual(['sgd', 'adam', true, 3]);
  });
});

describe('grid strategy', () => {
  const space = parseSearchSpace({
    opt: { type: 'choice', values: ['adam', 'sgd'] },
    units: { type: 'int', min: 8, max: 32, step: 8 },
    lr: { type: 'loguniform', min: 1e-3, max: 1e-1 },
  });

  it('enumerates exactly the cartesian product, sorted names as nested loops (last fastest)', () => {
    const grid = gridStrategy(space, { kind: 'grid', gridPoints: 3 });
    expect(grid.size).toBe(3 * 2 * 4);
    expect(grid.adaptive).toBe(false);
    const got = Array.from({ length: grid.size! }, (_, i) => grid.propose({ index: i }));
    const want: Params[] = [];
    for (const lr of [1e-3, 1e-2, 1e-1]) for (const opt of ['adam', 'sgd']) for (const units of [8, 16, 24, 32]) want.push({ lr, opt, units });
    expect(got).toEqual(want);
    expect(Object.keys(got[0]!)).toEqual(['lr', 'opt', 'units']);
    expect(new Set(got.map((p) => JSON.stringify(p))).size).toBe(grid.size);
  });

  it('does not depend on the key order the space was written (or stored) in', () => {
    const reordered = { units: space.units!, lr: space.lr!, opt: space.opt! };
    const a = gridStrategy(space);
    const b = gridStrategy(reordered);
    for (let i = 0; i < a.size!; i++) expect(b.propose({ index: i })).toEqual(a.propose({ index: i }));
  });

  it('reports its size with the default of 5 points per continuous parameter', () => {
    const full = parseSearchSpace({
      lr: { type: 'loguniform', min: 1e-4, max: 1e-1 },
      units: { type: 'int', min: 8, max: 128, step: 8 },
      opt: { type: 'choice', values: ['adam', 'sgd'] },
      dropout: { type: 'uniform', min: 0, max: 0.5 },
    });
    expect(gridSize(full)).toBe(5 * 16 * 2 * 5);
    expect(createStrategy(full, 'grid', { seed: 0 }).size).toBe(800);
  });

  it('refuses a grid over the cap, showing each axis', () => {
    const big = parseSearchSpace({ a: { type: 'int', min: 0, max: 999 }, b: { type: 'int', min: 0, max: 99 } });
    let err: unknown;
    try {
      gridStrategy(big);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toBe(
      'grid search over this space has 100,000 points (a 1000 × b 100), more than the cap of 10,000: lower gridPoints (now 5), coarsen int steps, drop choices, or use the random or tpe strategy',
    );
    expect(gridStrategy(big, { kind: 'grid', maxGridSize: 100_000 }).size).toBe(100_000);
    expect(() => gridStrategy(big, { kind: 'grid', maxGridSize: 99_999 })).toThrow(/more than the cap of 99,999/);
  });

  it('refuses astronomically large grids without overflowing', () => {
    const huge = parseSearchSpace(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`p${i}`, { type: 'int', min: 0, max: 1_000_000 }])));
    expect(() => gridStrategy(huge)).toThrow(/has 1\.00e\+180 points/);
  });

  it('rejects indexes outside the grid', () => {
    const grid = gridStrategy(space);
    expect(() => grid.propose({ index: grid.size! })).toThrow(ValidationError);
    expect(() => grid.propose({ index: grid.size! })).toThrow(`the grid has ${grid.size} points; trial index ${grid.size} is past its end`);
    expect(() => grid.propose({ index: -1 })).toThrow('trial index must be a whole number ≥ 0, got -1');
    expect(() => grid.propose({ index: 1.5 })).toThrow(ValidationError);
  });
});
