import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rng, createRng, epochOrder, normal } from './random.ts';

describe('one generator for runs and sweeps', () => {
  // Pinned: a checkpoint's Rng state, an epoch's order and a sweep's trial params are
  // reproduced from these draws, so a change here changes past runs and sweeps.
  it('draws the same numbers it always has', () => {
    const r = new Rng(42);
    expect([r.next(), r.next()]).toEqual([0.9105992272961885, 0.36439116508699954]);
    const a = createRng(7, 3);
    expect([a(), a(), a()]).toEqual([0.2938012417871505, 0.539075797656551, 0.2896582738030702]);
    expect(Array.from(epochOrder(8, 1, 0))).toEqual([3, 1, 6, 4, 0, 7, 5, 2]);
  });

  it('imports nothing, so @cairn/engine/random loads no tfjs', () => {
    expect(readFileSync(new URL('./random.ts', import.meta.url), 'utf8')).not.toMatch(/^\s*import\s/m);
  });
});

describe('createRng', () => {
  it('is deterministic and separates seeds and streams', () => {
    const a = createRng(7, 3);
    const b = createRng(7, 3);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(createRng(7, 4)()).not.toBe(xs[0]);
    expect(createRng(8, 3)()).not.toBe(xs[0]);
    expect(createRng(7 + 2 ** 32, 3)()).not.toBe(xs[0]); // the high half of the seed counts
    expect(createRng(7)()).not.toBe(createRng(7, 0)());
  });

  it('gives uniforms in [0, 1) and standard normals', () => {
    const r = createRng(123);
    let sum = 0;
    let sq = 0;
    const n = 20_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r();
      if (!(u >= 0 && u < 1)) outside++;
      const z = normal(r);
      sum += z;
      sq += z * z;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });
});
