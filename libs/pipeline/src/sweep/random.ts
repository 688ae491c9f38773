import { type Rand, createRng } from '@cairn/engine/random';
import { type ParamSpec, type ParamValue, type Params, type SearchSpace, intCount, paramNames } from './space.ts';
import { type Strategy, checkIndex } from './common.ts';

/**
 * One draw of a parameter from `rand`:
 * - uniform: min + u (max - min), in [min, max);
 * - loguniform: exp of a uniform draw between ln min and ln max (so each decade is as
 *   likely as any other), clamped into [min, max] against rounding;
 * - int: one of min, min + step, … ≤ max, each equally likely;
 * - choice: one of the values, each equally likely.
 */
export function sampleParam(spec: ParamSpec, rand: Rand): ParamValue {
  const u = rand();
  switch (spec.type) {
    case 'uniform':
      return Math.min(spec.max, spec.min + u * (spec.max - spec.min));
    case 'loguniform': {
      const lo = Math.log(spec.min);
      const x = Math.exp(lo + u * (Math.log(spec.max) - lo));
      return Math.min(spec.max, Math.max(spec.min, x));
    }
    case 'int':
      return spec.min + Math.floor(u * intCount(spec)) * (spec.step ?? 1);
    case 'choice':
      return spec.values[Math.floor(u * spec.values.length)]!;
  }
}

/** Draws every parameter, in canonical name order. */
export function sampleSpace(space: SearchSpace, names: readonly string[], rand: Rand): Params {
  const out: Params = {};
  for (const name of names) out[name] = sampleParam(space[name]!, rand);
  return out;
}

/**
 * Random search: trial i's params are drawn from the generator for (seed, i), so each
 * trial is fixed by the seed alone and the whole sweep can be planned up front. Draws are
 * independent: in a small discrete space the same params may come up twice.
 */
export function randomStrategy(space: SearchSpace, seed: number): Strategy {
  const names = paramNames(space);
  return {
    kind: 'random',
    size: null,
    adaptive: false,
    propose({ index }) {
      checkIndex(index, null, 'random search');
      return sampleSpace(space, names, createRng(seed, index));
    },
  };
}
