import { ValidationError } from '@cairn/schema';
import { type ParamSpec, type ParamValue, type Params, type SearchSpace, intCount, paramNames } from './space.ts';
import { DEFAULT_GRID_POINTS, DEFAULT_MAX_GRID_SIZE, type GridSpec, type Strategy, checkIndex } from './common.ts';

/** Rounds to 12 significant digits so 10^-3 computed as exp(…) prints as 0.001. */
function tidy(x: number): number {
  return Number(x.toPrecision(12));
}

/**
 * The values a parameter takes in a grid, in ascending order (choices in their listed
 * order): every choice; every int on the lattice min, min + step, … ≤ max; `points`
 * evenly spaced values from min to max (both included) for uniform, and evenly spaced in
 * the logarithm for loguniform (1e-4..1e-1 with 4 points: 1e-4, 1e-3, 1e-2, 1e-1).
 */
export function gridValues(spec: ParamSpec, points = DEFAULT_GRID_POINTS): ParamValue[] {
  switch (spec.type) {
    case 'choice':
      return [...spec.values];
    case 'int': {
      const n = intCount(spec);
      const step = spec.step ?? 1;
      return Array.from({ length: n }, (_, i) => spec.min + i * step);
    }
    case 'uniform':
    case 'loguniform': {
      const log = spec.type === 'loguniform';
      const lo = log ? Math.log(spec.min) : spec.min;
      const hi = log ? Math.log(spec.max) : spec.max;
      const out: number[] = [];
      for (let i = 0; i < points; i++) {
        if (i === 0) out.push(spec.min);
        else if (i === points - 1) out.push(spec.max);
        else {
          const t = lo + ((hi - lo) * i) / (points - 1);
          out.push(tidy(log ? Math.exp(t) : t));
        }
      }
      return out;
    }
  }
}

/** The number of values a parameter takes in a grid, without building them. */
function axisSize(spec: ParamSpec, points: number): number {
  if (spec.type === 'choice') return spec.values.length;
  if (spec.type === 'int') return intCount(spec);
  return points;
}

/** The grid's size: the product of the axes' sizes (may exceed the safe-integer range). */
export function gridSize(space: SearchSpace, gridPoints = DEFAULT_GRID_POINTS): number {
  let n = 1;
  for (const name of paramNames(space)) n *= axisSize(space[name]!, gridPoints);
  return n;
}

/**
 * Grid search: the full cartesian product of every parameter's grid values. Parameters
 * are taken in canonical (sorted) name order, the last varying fastest, like nested
 * loops over the sorted names: trial i is i written in the mixed radix of the axes'
 * sizes. A grid over `maxGridSize` (default 10,000) points is refused up front with a
 * ValidationError that shows each axis's size.
 */
export function gridStrategy(space: SearchSpace, spec: GridSpec = { kind: 'grid' }): Strategy {
  const points = spec.gridPoints ?? DEFAULT_GRID_POINTS;
  const cap = spec.maxGridSize ?? DEFAULT_MAX_GRID_SIZE;
  const names = paramNames(space);
  const size = gridSize(space, points);
  if (size > cap) {
    const axes = names.map((n) => `${n} ${axisSize(space[n]!, points)}`).join(' × ');
    const total = Number.isSafeInteger(size) ? size.toLocaleString('en-US') : size.toExponential(2);
    throw new ValidationError(
      `grid search over this space has ${total} points (${axes}), more than the cap of ${cap.toLocaleString('en-US')}: lower gridPoints (now ${points}), coarsen int steps, drop choices, or use the random or tpe strategy`,
    );
  }
  const axes = names.map((n) => gridValues(space[n]!, points));
  return {
    kind: 'grid',
    size,
    adaptive: false,
    propose({ index }) {
      checkIndex(index, size, 'the grid');
      const out: Params = {};
      let rest = index;
      for (let a = axes.length - 1; a >= 0; a--) {
        const values = axes[a]!;
        out[names[a]!] = values[rest % values.length]!;
        rest = Math.floor(rest / values.length);
      }
      // Keys in canonical order (the loop above filled them from the last).
      const ordered: Params = {};
      for (const n of names) ordered[n] = out[n]!;
      return ordered;
    },
  };
}
