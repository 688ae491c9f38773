import { type Direction, type Strategy, type TpeSpec, type TrialResult, TPE_DEFAULTS, checkIndex, isBetter } from './common.ts';
import { sampleSpace } from './random.ts';
import { type Rand, createRng, normal } from '@cairn/engine/random';
import { type ChoiceValue, type ParamSpec, type ParamValue, type Params, type SearchSpace, byCodeUnits, intCount, paramNames, paramsKey } from './space.ts';

/*
 * Tree-structured Parzen Estimator (Bergstra et al. 2011), univariate, as hyperopt and
 * Optuna run it by default:
 *
 * 1. While fewer than `startup` (10) results exist, or for trial indexes below `startup`,
 *    propose a random draw (the same draw the random strategy makes for that index).
 * 2. Order the results best first (see `rankResults`) and split them: the first
 *    ceil(gamma · n) (gamma 0.25) with a finite objective are "good", the rest "bad".
 *    Params of trials still in flight join the bad set (the constant liar: a second
 *    worker asking at the same moment is steered away from the first one's point).
 * 3. Per parameter, fit a Parzen density l to the good and g to the bad observations:
 *    - uniform, loguniform (in ln space) and int (in lattice-index space): a mixture of
 *      Gaussians, one per observation plus a prior one at the middle of the range with
 *      sigma = the range's width; each observation's sigma is the larger distance to
 *      its neighbours (prior included), clipped to [width / min(100, 1 + m), width] for
 *      m components (hyperopt's adaptive Parzen estimator). Components are truncated to
 *      the range. Ints get the mixture's mass over [i - ½, i + ½].
 *    - choice: smoothed frequencies, p(c) = (count(c) + priorWeight / K) / (m + priorWeight).
 *    The prior (weight `priorWeight`, 1) keeps both densities positive everywhere, so
 *    l/g is always defined.
 * 4. Draw `candidates` (24) points from l (each parameter independently) and propose the
 *    one with the largest Σ log l(x) − log g(x); the first wins a tie.
 *
 * Every draw comes from the generator for (seed, trial index), and results are put in a
 * canonical order first, so the proposal is a pure function of (space, spec, seed, index,
 * history as a multiset, pending).
 */

/**
 * Results best first, the order the good/bad split takes from:
 * 1. finished trials with a finite objective, best value first;
 * 2. abandoned trials with a finite objective, best value first. An abandoned trial's
 *    value is the last one it reported, from a partly trained model, and an early
 *    termination policy judged it worse than its peers, so it ranks below every
 *    finished trial whatever its value (Optuna treats pruned trials the same way). It
 *    can still be good when fewer than ceil(gamma · n) trials finished;
 * 3. everything else (failed, or a NaN/infinite objective): always bad.
 * Ties (equal values) break on the params' canonical JSON, so the order does not depend
 * on the order the caller listed the results in.
 */
export function rankResults(history: readonly TrialResult[], direction: Direction): TrialResult[] {
  const group = (r: TrialResult) => (!Number.isFinite(r.value) || r.status === 'failed' ? 2 : r.status === 'abandoned' ? 1 : 0);
  const keyed = history.map((r) => ({ r, g: group(r), k: paramsKey(r.params) }));
  keyed.sort((a, b) => {
    if (a.g !== b.g) return a.g - b.g;
    if (a.g < 2 && a.r.value !== b.r.value) return isBetter(a.r.value, b.r.value, direction) ? -1 : 1;
    return byCodeUnits(a.k, b.k);
  });
  return keyed.map((x) => x.r);
}

/** The good/bad split of step 2 (without the pending params). */
export function splitResults(history: readonly TrialResult[], direction: Direction, gamma: number): { good: TrialResult[]; bad: TrialResult[] } {
  const ranked = rankResults(history, direction);
  const finite = ranked.filter((r) => Number.isFinite(r.value) && r.status !== 'failed').length;
  const nGood = Math.min(Math.ceil(gamma * ranked.length), finite);
  return { good: ranked.slice(0, nGood), bad: ranked.slice(nGood) };
}

// ---------------------------------------------------------------------------------------
// Normal distribution helpers.

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erfc(x) for x ≥ 0, relative error below 1e-8: 1 − erf(x) from erf's Taylor series
 * below 3 (where erfc ≥ 2e-5, so the subtraction loses little), and the continued
 * fraction erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) from 3 up.
 */
function erfcPos(x: number): number {
  if (x < 3) {
    let sum = x;
    let term = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const d = term / (2 * n + 1);
      sum += d;
      if (Math.abs(d) <= 1e-17 * Math.abs(sum)) break;
    }
    return 1 - TWO_OVER_SQRT_PI * sum;
  }
  let f = x;
  for (let k = 60; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Upper tail Q(z) = P(Z > z) of the standard normal. */
export function normalTail(z: number): number {
  return z >= 0 ? 0.5 * erfcPos(z / Math.SQRT2) : 1 - 0.5 * erfcPos(-z / Math.SQRT2);
}

/** P(a < Z < b) for a ≤ b, computed on the side that avoids cancellation. */
function massBetween(a: number, b: number): number {
  if (a >= 0) return normalTail(a) - normalTail(b);
  if (b <= 0) return normalTail(-b) - normalTail(-a);
  return 1 - normalTail(-a) - normalTail(b);
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

// ---------------------------------------------------------------------------------------
// Parzen estimators.

/** A mixture of Gaussians truncated to [low, high]; weights sum to 1. */
export interface Mixture {
  low: number;
  high: number;
  mus: number[];
  sigmas: number[];
  weights: number[];
  /** Each component's mass inside [low, high]. */
  mass: number[];
}

/** Hyperopt's adaptive Parzen estimator over observations `obs` in [low, high] (step 3). */
export function fitMixture(obs: readonly number[], low: number, high: number, priorWeight: number): Mixture {
  const width = high - low;
  const priorMu = (low + high) / 2;
  const pts = obs.map((mu) => ({ mu, w: 1, prior: false }));
  pts.push({ mu: priorMu, w: priorWeight, prior: true });
  // Stable: equal mus keep their order, and the prior (pushed last) goes after equal observations.
  pts.sort((a, b) => a.mu - b.mu);
  const m = pts.length;
  const minSigma = width / Math.min(100, 1 + m);
  const mus: number[] = [];
  const sigmas: number[] = [];
  const weights: number[] = [];
  const mass: number[] = [];
  let total = 0;
  for (const p of pts) total += p.w;
  for (let i = 0; i < m; i++) {
    const p = pts[i]!;
    let sigma: number;
    if (p.prior) sigma = width;
    else {
      const left = i > 0 ? p.mu - pts[i - 1]!.mu : 0;
      const right = i < m - 1 ? pts[i + 1]!.mu - p.mu : 0;
      sigma = Math.min(width, Math.max(minSigma, left, right));
    }
    mus.push(p.mu);
    sigmas.push(sigma);
    weights.push(p.w / total);
    mass.push(massBetween((low - p.mu) / sigma, (high - p.mu) / sigma));
  }
  return { low, high, mus, sigmas, weights, mass };
}

function pickIndex(weights: readonly number[], rand: Rand): number {
  let u = rand();
  for (let i = 0; i < weights.length - 1; i++) {
    u -= weights[i]!;
    if (u < 0) return i;
  }
  return weights.length - 1;
}

/** A draw from the truncated mixture (rejection; a component that keeps missing falls back to uniform). */
export function sampleMixture(mix: Mixture, rand: Rand): number {
  const j = pickIndex(mix.weights, rand);
  for (let tries = 0; tries < 64; tries++) {
    const t = mix.mus[j]! + mix.sigmas[j]! * normal(rand);
    if (t >= mix.low && t <= mix.high) return t;
  }
  return mix.low + rand() * (mix.high - mix.low);
}

/** log density of the truncated mixture at t. */
export function logDensity(mix: Mixture, t: number): number {
  let p = 0;
  for (let j = 0; j < mix.mus.length; j++) {
    const s = mix.sigmas[j]!;
    const z = (t - mix.mus[j]!) / s;
    p += (mix.weights[j]! * Math.exp(-0.5 * z * z - LOG_SQRT_2PI)) / (s * mix.mass[j]!);
  }
  return Math.log(p);
}

/** log of the truncated mixture's mass over [a, b]. */
export function logMass(mix: Mixture, a: number, b: number): number {
  let p = 0;
  for (let j = 0; j < mix.mus.length; j++) {
    const s = mix.sigmas[j]!;
    const mu = mix.mus[j]!;
    p += (mix.weights[j]! * massBetween((a - mu) / s, (b - mu) / s)) / mix.mass[j]!;
  }
  return Math.log(p);
}

// ---------------------------------------------------------------------------------------
// Per-parameter models.

interface Model {
  /** Fits l or g to the params of some trials. */
  fit(params: readonly Params[]): Density;
}

interface Density {
  sample(rand: Rand): ParamValue;
  logPdf(x: ParamValue): number;
}

function numericModel(spec: Extract<ParamSpec, { type: 'uniform' | 'loguniform' }>, name: string, priorWeight: number): Model {
  const log = spec.type === 'loguniform';
  const low = log ? Math.log(spec.min) : spec.min;
  const high = log ? Math.log(spec.max) : spec.max;
  const encode = (x: number) => Math.min(high, Math.max(low, log ? Math.log(x) : x));
  return {
    fit(params) {
      const obs: number[] = [];
      for (const p of params) {
        const x = p[name];
        // Results recorded under another space (a missing or non-numeric value) tell nothing here.
        if (typeof x === 'number' && Number.isFinite(x) && (!log || x > 0)) obs.push(encode(x));
      }
      const mix = fitMixture(obs, low, high, priorWeight);
      return {
        sample(rand) {
          const t = sampleMixture(mix, rand);
          return Math.min(spec.max, Math.max(spec.min, log ? Math.exp(t) : t));
        },
        logPdf(x) {
          return logDensity(mix, encode(x as number));
        },
      };
    },
  };
}

function intModel(spec: Extract<ParamSpec, { type: 'int' }>, name: string, priorWeight: number): Model {
  const step = spec.step ?? 1;
  const k = intCount(spec);
  const toIndex = (x: number) => Math.min(k - 1, Math.max(0, Math.round((x - spec.min) / step)));
  return {
    fit(params) {
      const obs: number[] = [];
      for (const p of params) {
        const x = p[name];
        if (typeof x === 'number' && Number.isFinite(x)) obs.push(toIndex(x));
      }
      const mix = fitMixture(obs, -0.5, k - 0.5, priorWeight);
      return {
        sample(rand) {
          return spec.min + Math.min(k - 1, Math.max(0, Math.round(sampleMixture(mix, rand)))) * step;
        },
        logPdf(x) {
          const i = toIndex(x as number);
          return logMass(mix, i - 0.5, i + 0.5);
        },
      };
    },
  };
}

function choiceModel(spec: Extract<ParamSpec, { type: 'choice' }>, name: string, priorWeight: number): Model {
  const K = spec.values.length;
  const index = new Map<string, number>(spec.values.map((v, i) => [JSON.stringify(v), i]));
  const indexOf = (v: unknown) => (v === undefined ? undefined : index.get(JSON.stringify(v)));
  return {
    fit(params) {
      const counts = new Array<number>(K).fill(priorWeight / K);
      let m = priorWeight;
      for (const p of params) {
        const i = indexOf(p[name]);
        if (i === undefined) continue;
        counts[i]! += 1;
        m += 1;
      }
      const probs = counts.map((c) => c / m);
      const logs = probs.map((p) => Math.log(p));
      return {
        sample(rand): ChoiceValue {
          return spec.values[pickIndex(probs, rand)]!;
        },
        logPdf(x) {
          return logs[indexOf(x) ?? 0]!;
        },
      };
    },
  };
}

function modelFor(spec: ParamSpec, name: string, priorWeight: number): Model {
  switch (spec.type) {
    case 'uniform':
    case 'loguniform':
      return numericModel(spec, name, priorWeight);
    case 'int':
      return intModel(spec, name, priorWeight);
    case 'choice':
      return choiceModel(spec, name, priorWeight);
  }
}

/** The TPE strategy (see the comment at the top of this file). */
export function tpeStrategy(space: SearchSpace, spec: TpeSpec, seed: number, direction: Direction): Strategy {
  const startup = spec.startup ?? TPE_DEFAULTS.startup;
  const gamma = spec.gamma ?? TPE_DEFAULTS.gamma;
  const candidates = spec.candidates ?? TPE_DEFAULTS.candidates;
  const priorWeight = spec.priorWeight ?? TPE_DEFAULTS.priorWeight;
  const names = paramNames(space);
  const models = names.map((n) => modelFor(space[n]!, n, priorWeight));
  return {
    kind: 'tpe',
    size: null,
    adaptive: true,
    propose({ index, history = [], pending = [] }) {
      checkIndex(index, null, 'tpe');
      const rand = createRng(seed, index);
      if (index < startup || history.length < startup) return sampleSpace(space, names, rand);
      const { good, bad } = splitResults(history, direction, gamma);
      if (good.length === 0) return sampleSpace(space, names, rand); // nothing finite to learn from yet
      const goodParams = good.map((r) => r.params);
      const badParams = [...bad.map((r) => r.params), ...pending];
      const ls = models.map((m) => m.fit(goodParams));
      const gs = models.map((m) => m.fit(badParams));
      let best: Params | null = null;
      let bestScore = -Infinity;
      for (let c = 0; c < candidates; c++) {
        const x: Params = {};
        let score = 0;
        for (let a = 0; a < names.length; a++) {
          const v = ls[a]!.sample(rand);
          x[names[a]!] = v;
          score += ls[a]!.logPdf(v) - gs[a]!.logPdf(v);
        }
        if (best === null || score > bestScore) {
          best = x;
          bestScore = score;
        }
      }
      return best!;
    },
  };
}
