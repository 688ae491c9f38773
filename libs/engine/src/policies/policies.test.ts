import { describe, expect, it, vi } from 'vitest';
import { ValidationError } from '@cairn/schema';
import type { Evaluation, PeerCurve, Policy, PolicyContext, PolicySpec } from '../types.ts';
import {
  MEDIAN_MIN_PEERS,
  banditBound,
  banditPolicy,
  checkPolicies,
  createPolicies,
  createPolicy,
  median,
  medianPolicy,
  nanPolicy,
  nanVerdict,
  nonFinite,
  parsePolicySpec,
  parsePolicySpecs,
  plateauPolicy,
  policySpecSchema,
  slope,
  timeBudgetPolicy,
  trendPolicy,
} from './index.ts';

/** Evaluations at steps 10, 20, 30, … (epoch = index) with the given objective values. */
function evals(values: number[], opts: { steps?: number[]; metric?: string } = {}): Evaluation[] {
  return values.map((value, i) => {
    const step = opts.steps?.[i] ?? (i + 1) * 10;
    return { step, epoch: i, elapsedMs: step * 100, value, metrics: opts.metric ? { [opts.metric]: value } : {} };
  });
}

function ctx(history: Evaluation[], direction: 'minimize' | 'maximize' = 'minimize', peers: PeerCurve[] = [], elapsedMs = 0): PolicyContext {
  return { direction, history, peers, elapsedMs };
}

function peer(runId: string, points: [step: number, value: number][]): PeerCurve {
  return { runId, points: points.map(([step, value]) => ({ step, value })) };
}

/** Throws, and returns the error so its type and message can be asserted. */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('nonFinite', () => {
  it('returns null when every value is finite, including an empty record', () => {
    expect(nonFinite({})).toBeNull();
    expect(nonFinite({ loss: 0.3, acc: 0, big: 1e308, neg: -5 })).toBeNull();
  });

  it('names NaN, Infinity and -Infinity values in key order', () => {
    expect(nonFinite({ loss: Number.NaN, acc: 0.5, x: Number.NEGATIVE_INFINITY, y: Number.POSITIVE_INFINITY })).toEqual(['loss', 'x', 'y']);
  });
});

describe('nan policy', () => {
  const p = nanPolicy({ metric: 'val_loss' });

  it('keeps going with no evaluations or with finite ones', () => {
    expect(p.check(ctx([]))).toBeNull();
    expect(p.check(ctx(evals([1, 0.5], { metric: 'val_loss' })))).toBeNull();
  });

  it('abandons on a NaN objective, naming the metric, step and epoch', () => {
    const h = evals([1, Number.NaN], { metric: 'val_loss' });
    const v = p.check(ctx(h));
    expect(v).toEqual({ policy: 'nan', reason: 'nan: val_loss is NaN at step 20 (epoch 1)', details: { step: 20, count: 1, epoch: 1 } });
  });

  it('abandons on an infinite non-objective metric while the objective is still finite', () => {
    const h = evals([1, 0.9]);
    h[1]!.metrics = { loss: Number.POSITIVE_INFINITY, val_loss: 0.9, acc: Number.NEGATIVE_INFINITY };
    const v = p.check(ctx(h));
    expect(v?.reason).toBe('nan: loss is Infinity, acc is -Infinity at step 20 (epoch 1)');
    expect(v?.details.count).toBe(2);
  });

  it('looks at the newest evaluation only', () => {
    const h = evals([Number.NaN, 0.5]);
    expect(p.check(ctx(h))).toBeNull();
  });

  it('says "the objective" without a metric name, and on a value the metrics do not hold', () => {
    const h = evals([Number.NaN]);
    expect(nanPolicy().check(ctx(h))?.reason).toBe('nan: the objective is NaN at step 10 (epoch 0)');
  });

  it('marks the objective when its value is NaN but its metric entry is finite', () => {
    const h = evals([Number.NaN]);
    h[0]!.metrics = { val_loss: 0.4 };
    expect(p.check(ctx(h))?.reason).toBe('nan: val_loss (objective) is NaN at step 10 (epoch 0)');
  });

  it('keeps details JSON-safe (finite numbers only)', () => {
    const v = p.check(ctx(evals([Number.POSITIVE_INFINITY], { metric: 'val_loss' })))!;
    expect(JSON.parse(JSON.stringify(v.details))).toEqual(v.details);
    expect(Object.values(v.details).every(Number.isFinite)).toBe(true);
  });

  it('nanVerdict builds the per-batch verdict the trainer records', () => {
    const m = { loss: Number.NaN };
    expect(nanVerdict(nonFinite(m)!, m, { step: 1200 })).toEqual({ policy: 'nan', reason: 'nan: loss is NaN at step 1200', details: { step: 1200, count: 1 } });
  });
});

describe('time-budget policy', () => {
  const p = timeBudgetPolicy({ ms: 60_000 });

  it('keeps going under and exactly at the budget', () => {
    expect(p.check(ctx([], 'minimize', [], 59_999))).toBeNull();
    expect(p.check(ctx([], 'minimize', [], 60_000))).toBeNull();
  });

  it('abandons past the budget, with no evaluations needed', () => {
    const v = p.check(ctx([], 'minimize', [], 90_500));
    expect(v).toEqual({ policy: 'time-budget', reason: 'time-budget: 1.5 min elapsed, over the 1 min budget', details: { elapsedMs: 90_500, budgetMs: 60_000 } });
  });

  it('formats short budgets in ms and seconds', () => {
    expect(timeBudgetPolicy({ ms: 500 }).check(ctx([], 'minimize', [], 12_340))?.reason).toBe('time-budget: 12.3 s elapsed, over the 500 ms budget');
  });
});

describe('plateau policy', () => {
  it('abandons after `patience` evaluations without improvement (minimize)', () => {
    const p = plateauPolicy({ patience: 2 }, { metric: 'val_loss' });
    expect(p.check(ctx(evals([1, 0.9, 0.95])))).toBeNull();
    const v = p.check(ctx(evals([1, 0.9, 0.95, 0.92])));
    expect(v).toEqual({
      policy: 'plateau',
      reason: 'plateau: no improvement on val_loss for 2 evaluations (best 0.9 at step 20, now 0.92)',
      details: { patience: 2, best: 0.9, bestStep: 20, current: 0.92 },
    });
  });

  it('is direction aware (maximize)', () => {
    const p = plateauPolicy({ patience: 2 });
    // Falling values are improvements when minimizing, never when maximizing.
    expect(p.check(ctx(evals([0.5, 0.4, 0.3]), 'minimize'))).toBeNull();
    const v = p.check(ctx(evals([0.5, 0.4, 0.3]), 'maximize'));
    expect(v?.details).toEqual({ patience: 2, best: 0.5, bestStep: 10, current: 0.3 });
    expect(p.check(ctx(evals([0.5, 0.6, 0.7]), 'maximize'))).toBeNull();
  });

  it('an improvement resets the count', () => {
    const p = plateauPolicy({ patience: 2 });
    expect(p.check(ctx(evals([1, 0.9, 0.95, 0.8, 0.85])))).toBeNull();
    expect(p.check(ctx(evals([1, 0.9, 0.95, 0.8, 0.85, 0.81])))?.details.bestStep).toBe(40);
  });

  it('a tie is not an improvement', () => {
    expect(plateauPolicy({ patience: 1 }).check(ctx(evals([1, 1])))?.details.best).toBe(1);
  });

  it('gains of exactly minDelta do not count; larger ones do', () => {
    const p = plateauPolicy({ patience: 1, minDelta: 0.5 });
    expect(p.check(ctx(evals([2, 1.5])))?.reason).toBe('plateau: no improvement by more than 0.5 on the objective for 1 evaluation (best 2 at step 10, now 1.5)');
    expect(p.check(ctx(evals([2, 1.25])))).toBeNull();
    expect(p.check(ctx(evals([2, 2.5]), 'maximize'))).not.toBeNull();
    expect(p.check(ctx(evals([2, 2.75]), 'maximize'))).toBeNull();
  });

  it('a creep of sub-minDelta gains does not move the best', () => {
    const p = plateauPolicy({ patience: 3, minDelta: 0.1 });
    const v = p.check(ctx(evals([1, 0.95, 0.93, 0.92])));
    expect(v?.details).toEqual({ patience: 3, best: 1, bestStep: 10, current: 0.92 });
  });

  it('needs more than `patience` evaluations', () => {
    const p = plateauPolicy({ patience: 3 });
    expect(p.check(ctx([]))).toBeNull();
    expect(p.check(ctx(evals([1, 2, 3])))).toBeNull();
    expect(p.check(ctx(evals([1, 2, 3, 4])))).not.toBeNull();
  });

  it('NaN never improves; all-NaN histories are left to the nan policy', () => {
    const p = plateauPolicy({ patience: 2 });
    const v = p.check(ctx(evals([1, Number.NaN, Number.NaN])));
    expect(v?.details.best).toBe(1);
    expect(v?.details.current).toBeNaN();
    expect(p.check(ctx(evals([Number.NaN, Number.NaN, Number.NaN])))).toBeNull();
    // A leading NaN does not freeze the best.
    expect(p.check(ctx(evals([Number.NaN, 1, 0.5, 0.4])))).toBeNull();
    expect(p.check(ctx(evals([1, Number.NEGATIVE_INFINITY, 2])))?.details.best).toBe(1);
  });
});

describe('slope', () => {
  it('is the least-squares slope against step, with uneven steps', () => {
    expect(slope([{ step: 0, value: 0 }, { step: 10, value: 1 }, { step: 30, value: 3 }])).toBeCloseTo(0.1, 12);
    expect(slope([{ step: 1, value: 1 }, { step: 2, value: 3 }, { step: 3, value: 2 }])).toBeCloseTo(0.5, 12);
  });

  it('is null for equal steps, non-finite values and fewer than 2 points', () => {
    expect(slope([{ step: 5, value: 1 }, { step: 5, value: 2 }])).toBeNull();
    expect(slope([{ step: 1, value: 1 }, { step: 2, value: Number.NaN }])).toBeNull();
    expect(slope([{ step: 1, value: 1 }])).toBeNull();
  });
});

describe('trend policy', () => {
  it('abandons when a minimized objective rises over the window', () => {
    const p = trendPolicy({ window: 3 }, { metric: 'val_loss' });
    const v = p.check(ctx(evals([1, 0.5, 0.6, 0.7])));
    expect(v?.policy).toBe('trend');
    expect(v?.details.window).toBe(3);
    expect(v?.details.slope).toBeCloseTo(0.01, 12);
    expect(v?.reason).toBe('trend: val_loss rising over the last 3 evaluations (slope 0.01 per step, steps 20–40), but should be minimized');
    expect(p.check(ctx(evals([1, 0.9, 0.8, 0.7])))).toBeNull();
  });

  it('abandons when a maximized objective falls, not when it rises', () => {
    const p = trendPolicy({ window: 3 });
    expect(p.check(ctx(evals([0.9, 0.8, 0.7]), 'maximize'))?.reason).toMatch(/^trend: the objective falling over the last 3 evaluations .*should be maximized$/);
    expect(p.check(ctx(evals([0.7, 0.8, 0.9]), 'maximize'))).toBeNull();
  });

  it('a flat window is not a wrong-way trend in either direction', () => {
    const p = trendPolicy({ window: 3 });
    expect(p.check(ctx(evals([1, 1, 1]), 'minimize'))).toBeNull();
    expect(p.check(ctx(evals([1, 1, 1]), 'maximize'))).toBeNull();
  });

  it('needs at least `window` evaluations', () => {
    const p = trendPolicy({ window: 4 });
    expect(p.check(ctx(evals([1, 2, 3])))).toBeNull();
    expect(p.check(ctx(evals([1, 2, 3, 4])))).not.toBeNull();
  });

  it('tolerates a slope of exactly minSlope, not more', () => {
    const h = evals([0, 0.5, 1], { steps: [0, 1, 2] }); // slope exactly 0.5
    expect(trendPolicy({ window: 3, minSlope: 0.5 }).check(ctx(h))).toBeNull();
    expect(trendPolicy({ window: 3, minSlope: 0.25 }).check(ctx(h))?.details.slope).toBe(0.5);
    const down = evals([1, 0.5, 0], { steps: [0, 1, 2] }); // slope exactly -0.5
    expect(trendPolicy({ window: 3, minSlope: 0.5 }).check(ctx(down, 'maximize'))).toBeNull();
    expect(trendPolicy({ window: 3, minSlope: 0.25 }).check(ctx(down, 'maximize'))?.details.slope).toBe(-0.5);
  });

  it('fits only the last `window` evaluations and lets one noisy point pass', () => {
    const p = trendPolicy({ window: 3 });
    // Rose early, falling recently.
    expect(p.check(ctx(evals([0.1, 0.5, 0.9, 0.7, 0.5])))).toBeNull();
    // The newest evaluation went up, but the fit over 5 still falls.
    expect(trendPolicy({ window: 5 }).check(ctx(evals([1, 0.8, 0.6, 0.4, 0.45])))).toBeNull();
  });

  it('uses steps, not positions, as x', () => {
    // Index-wise these values fall then rise symmetrically (slope 0); by step they rise.
    const h = evals([1, 0, 1], { steps: [0, 1, 100] });
    expect(trendPolicy({ window: 3 }).check(ctx(h))?.details.slope).toBeGreaterThan(0);
  });

  it('abstains on a window with NaN or with all evaluations at one step', () => {
    const p = trendPolicy({ window: 3 });
    expect(p.check(ctx(evals([1, Number.NaN, 3])))).toBeNull();
    expect(p.check(ctx(evals([1, 2, 3], { steps: [7, 7, 7] })))).toBeNull();
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones, without sorting its input', () => {
    const xs = [3, 1, 2];
    expect(median(xs)).toBe(2);
    expect(xs).toEqual([3, 1, 2]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe('median policy', () => {
  const peers3 = [peer('a', [[10, 0.9], [30, 0.5]]), peer('b', [[30, 0.6]]), peer('c', [[20, 0.7], [40, 0.1]])];

  it('abandons a run worse than the median of peers at the same step (minimize)', () => {
    const p = medianPolicy({}, { metric: 'val_loss' });
    const v = p.check(ctx(evals([1, 0.9, 0.8]), 'minimize', peers3));
    // At step 30: a → 0.5, b → 0.6, c → 0.7 (its 0.1 at step 40 is in the future).
    expect(v).toEqual({
      policy: 'median',
      reason: 'median: best val_loss 0.8 by step 30 is worse than the median 0.6 of 3 earlier runs at that step',
      details: { value: 0.8, median: 0.6, peers: 3, step: 30 },
    });
    expect(p.check(ctx(evals([1, 0.9, 0.55]), 'minimize', peers3))).toBeNull();
  });

  it('keeps a run exactly at the median', () => {
    expect(medianPolicy().check(ctx(evals([1, 0.9, 0.6]), 'minimize', peers3))).toBeNull();
  });

  it('is direction aware (maximize)', () => {
    const peers = [peer('a', [[30, 0.5]]), peer('b', [[30, 0.6]]), peer('c', [[30, 0.7]])];
    expect(medianPolicy().check(ctx(evals([0.1, 0.2, 0.55]), 'maximize', peers))?.details).toEqual({ value: 0.55, median: 0.6, peers: 3, step: 30 });
    expect(medianPolicy().check(ctx(evals([0.1, 0.2, 0.65]), 'maximize', peers))).toBeNull();
  });

  it('waits for minEvaluations (default 3)', () => {
    expect(medianPolicy().check(ctx(evals([5, 5]), 'minimize', peers3))).toBeNull();
    const peersAt20 = [peer('a', [[20, 0.1]]), peer('b', [[20, 0.1]]), peer('c', [[20, 0.1]])];
    expect(medianPolicy({ minEvaluations: 2 }).check(ctx(evals([5, 5]), 'minimize', peersAt20))).not.toBeNull();
    expect(medianPolicy({ minEvaluations: 4 }).check(ctx(evals([5, 5, 5]), 'minimize', peers3))).toBeNull();
  });

  it(`needs ${MEDIAN_MIN_PEERS} peers with a point at or before the step`, () => {
    const p = medianPolicy();
    expect(p.check(ctx(evals([9, 9, 9]), 'minimize', []))).toBeNull();
    expect(p.check(ctx(evals([9, 9, 9]), 'minimize', peers3.slice(0, 2)))).toBeNull();
    // A third peer that only starts reporting after step 30 is left out.
    const late = peer('late', [[50, 0.1]]);
    expect(p.check(ctx(evals([9, 9, 9]), 'minimize', [...peers3.slice(0, 2), late]))).toBeNull();
    expect(p.check(ctx(evals([9, 9, 9]), 'minimize', [...peers3.slice(0, 2), late, peer('d', [[5, 1]])]))?.details.peers).toBe(3);
  });

  it("uses each peer's best-so-far at the step, from sparse, unsorted points", () => {
    // a: best by step 30 is 0.2 at step 10 (its later 0.9 does not count against it).
    // b: points out of order; best by 30 is 0.3. c: only a point at step 5.
    const peers = [peer('a', [[10, 0.2], [20, 0.9]]), peer('b', [[100, 0.01], [25, 0.3], [15, 0.8]]), peer('c', [[5, 0.4]])];
    const v = medianPolicy().check(ctx(evals([1, 0.9, 0.8]), 'minimize', peers));
    expect(v?.details).toEqual({ value: 0.8, median: 0.3, peers: 3, step: 30 });
  });

  it("compares the run's best-so-far, not its newest value", () => {
    expect(medianPolicy().check(ctx(evals([0.5, 0.9, 0.95]), 'minimize', peers3))).toBeNull();
  });

  it("ignores peers' non-finite points and abstains when the run has no finite value", () => {
    const peers = [...peers3, peer('nan', [[10, Number.NaN]])];
    expect(medianPolicy().check(ctx(evals([1, 0.9, 0.8]), 'minimize', peers))?.details.peers).toBe(3);
    expect(medianPolicy().check(ctx(evals([Number.NaN, Number.NaN, Number.NaN]), 'minimize', peers3))).toBeNull();
  });
});

describe('banditBound', () => {
  it("is Azure's slack_factor for positive targets", () => {
    expect(banditBound(3, 0.5, 'maximize')).toBe(2);
    expect(banditBound(2, 0.5, 'minimize')).toBe(3);
    expect(banditBound(2, 0, 'maximize')).toBe(2);
  });

  it('moves negative targets the worse way too', () => {
    expect(banditBound(-2, 0.5, 'maximize')).toBe(-3);
    expect(banditBound(-2, 1, 'minimize')).toBe(-1);
  });

  it('has no bound at a zero target', () => {
    expect(banditBound(0, 0.5, 'maximize')).toBeNull();
    expect(banditBound(0, 0.5, 'minimize')).toBeNull();
  });
});

describe('bandit policy', () => {
  const at = (values: number[]) => evals(values); // steps 10, 20, 30

  it('abandons a maximized run below target / (1 + slack), keeps one exactly at it', () => {
    const peers = [peer('a', [[30, 3]]), peer('b', [[30, 2.5]])];
    const p = banditPolicy({ slack: 0.5 }, { metric: 'val_acc' });
    expect(p.check(ctx(at([1, 1.5, 2]), 'maximize', peers))).toBeNull();
    const v = p.check(ctx(at([1, 1.5, 1.99]), 'maximize', peers));
    expect(v).toEqual({
      policy: 'bandit',
      reason: "bandit: best val_acc 1.99 by step 30 is outside the 50% slack of the best earlier run's 3 (bound 2)",
      details: { value: 1.99, target: 3, slack: 0.5, bound: 2, peers: 2, step: 30 },
    });
  });

  it('abandons a minimized run above target * (1 + slack), keeps one exactly at it', () => {
    const peers = [peer('a', [[30, 2]]), peer('b', [[30, 4]])];
    const p = banditPolicy({ slack: 0.5 });
    expect(p.check(ctx(at([5, 4, 3]), 'minimize', peers))).toBeNull();
    expect(p.check(ctx(at([5, 4, 3.01]), 'minimize', peers))?.details).toMatchObject({ value: 3.01, target: 2, bound: 3 });
  });

  it('handles negative targets in both directions', () => {
    const max = [peer('a', [[30, -2]])];
    expect(banditPolicy({ slack: 0.5 }).check(ctx(at([-9, -9, -2.5]), 'maximize', max))).toBeNull();
    expect(banditPolicy({ slack: 0.5 }).check(ctx(at([-9, -9, -3.5]), 'maximize', max))?.details.bound).toBe(-3);
    const min = [peer('a', [[30, -2]])];
    expect(banditPolicy({ slack: 1 }).check(ctx(at([0, 0, -1.5]), 'minimize', min))).toBeNull();
    expect(banditPolicy({ slack: 1 }).check(ctx(at([0, 0, -0.5]), 'minimize', min))?.details.bound).toBe(-1);
  });

  it('abstains at a zero target, and handles a sign change', () => {
    expect(banditPolicy({ slack: 0.1 }).check(ctx(at([5, 5, 5]), 'minimize', [peer('a', [[10, 0]])]))).toBeNull();
    expect(banditPolicy({ slack: 0.1 }).check(ctx(at([-1, -1, -1]), 'maximize', [peer('a', [[10, 1]])]))?.details.target).toBe(1);
  });

  it('with slack 0, anything worse than the best peer is abandoned', () => {
    const peers = [peer('a', [[30, 1]])];
    expect(banditPolicy({ slack: 0 }).check(ctx(at([2, 2, 1]), 'minimize', peers))).toBeNull();
    expect(banditPolicy({ slack: 0 }).check(ctx(at([2, 2, 1.001]), 'minimize', peers))).not.toBeNull();
  });

  it('targets the best peer, one peer is enough, none means keep going', () => {
    const peers = [peer('a', [[30, 0.5]]), peer('b', [[30, 0.9]]), peer('c', [[30, 0.7]])];
    expect(banditPolicy({ slack: 0.1 }).check(ctx(at([0.1, 0.1, 0.8]), 'maximize', peers))?.details.target).toBe(0.9);
    expect(banditPolicy({ slack: 0.1 }).check(ctx(at([0.1, 0.1, 0.1]), 'maximize', [peer('a', [[30, 0.5]])]))?.details.peers).toBe(1);
    expect(banditPolicy({ slack: 0.1 }).check(ctx(at([0.1, 0.1, 0.1]), 'maximize', []))).toBeNull();
    expect(banditPolicy({ slack: 0.1 }).check(ctx(at([0.1, 0.1, 0.1]), 'maximize', [peer('late', [[40, 0.9]])]))).toBeNull();
  });

  it("uses peers' best-so-far at the step from sparse points", () => {
    // a's best by step 30 is 0.9 at step 10; its 0.99 at step 50 is in the future.
    const peers = [peer('a', [[10, 0.9], [20, 0.4], [50, 0.99]])];
    expect(banditPolicy({ slack: 0 }).check(ctx(at([0.1, 0.1, 0.8]), 'maximize', peers))?.details.target).toBe(0.9);
  });

  it('waits for minEvaluations (default 3) and compares best-so-far', () => {
    const peers = [peer('a', [[10, 3]]), peer('b', [[20, 3]])];
    expect(banditPolicy({ slack: 0.5 }).check(ctx(at([1, 1]), 'maximize', peers))).toBeNull();
    expect(banditPolicy({ slack: 0.5, minEvaluations: 2 }).check(ctx(at([1, 1]), 'maximize', peers))).not.toBeNull();
    // Newest 1 is out of the slack, but the run's best 2.5 is within it.
    expect(banditPolicy({ slack: 0.5 }).check(ctx(at([2.5, 1, 1]), 'maximize', peers))).toBeNull();
  });
});

describe('policySpecSchema and parsePolicySpec', () => {
  const valid: PolicySpec[] = [
    { kind: 'nan' },
    { kind: 'time-budget', ms: 1 },
    { kind: 'plateau', patience: 1 },
    { kind: 'plateau', patience: 5, minDelta: 0 },
    { kind: 'trend', window: 3, minSlope: 0.001 },
    { kind: 'median' },
    { kind: 'median', minEvaluations: 1 },
    { kind: 'bandit', slack: 0 },
    { kind: 'bandit', slack: 0.2, minEvaluations: 5 },
  ];

  it('accepts every valid spec unchanged', () => {
    for (const s of valid) expect(parsePolicySpec(s)).toEqual(s);
  });

  const bad: [unknown, string][] = [
    [5, "invalid policy spec: a policy spec must be an object like { kind: 'plateau', patience: 5 }, got 5"],
    [null, 'got null'],
    [{}, 'kind: must be one of nan, time-budget, plateau, trend, median, bandit (it is missing)'],
    [{ kind: 'early' }, 'kind: must be one of nan, time-budget, plateau, trend, median, bandit (got "early")'],
    [{ kind: 'plateau' }, 'patience: required: a whole number ≥ 1'],
    [{ kind: 'plateau', patience: 0 }, 'patience: must be a whole number ≥ 1 (evaluations without improvement), got 0'],
    [{ kind: 'plateau', patience: 2.5 }, 'patience: must be a whole number ≥ 1 (evaluations without improvement), got 2.5'],
    [{ kind: 'plateau', patience: '5' }, 'patience: must be a whole number ≥ 1 (evaluations without improvement), got "5"'],
    [{ kind: 'plateau', patience: Number.NaN }, 'patience: must be a whole number ≥ 1 (evaluations without improvement), got NaN'],
    [{ kind: 'plateau', patience: 3, minDelta: -0.1 }, 'minDelta: must be a number ≥ 0'],
    [{ kind: 'plateau', patience: 3, patiance: 4 }, 'unknown option "patiance" for a plateau policy (allowed: patience, minDelta)'],
    [{ kind: 'nan', ms: 4 }, 'unknown option "ms" for a nan policy (it takes no options)'],
    [{ kind: 'trend', window: 2 }, 'window: must be a whole number ≥ 3 (evaluations the slope is fitted over), got 2'],
    [{ kind: 'trend', window: 3, minSlope: -1 }, 'minSlope: must be a number ≥ 0'],
    [{ kind: 'time-budget', ms: 0 }, 'ms: must be a number of milliseconds > 0, got 0'],
    [{ kind: 'time-budget', ms: Number.POSITIVE_INFINITY }, 'ms: must be a number of milliseconds > 0, got Infinity'],
    [{ kind: 'time-budget' }, 'ms: required: a number of milliseconds > 0'],
    [{ kind: 'bandit' }, 'slack: required: a number ≥ 0'],
    [{ kind: 'bandit', slack: -0.1 }, 'slack: must be a number ≥ 0 (e.g. 0.1 allows 10% worse than the best run), got -0.1'],
    [{ kind: 'median', minEvaluations: 0 }, 'minEvaluations: must be a whole number ≥ 1 (evaluations before the policy may act), got 0'],
    [{ kind: 'bandit', slack: 0.1, minEvaluations: 1.5 }, 'minEvaluations: must be a whole number ≥ 1'],
  ];

  it.each(bad)('rejects %j with a clear ValidationError', (input, message) => {
    expect(policySpecSchema.safeParse(input).success).toBe(false);
    const e = thrown(() => parsePolicySpec(input));
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).code).toBe('INVALID_INPUT');
    expect(e.message.startsWith('invalid policy spec: ')).toBe(true);
    expect(e.message).toContain(message);
  });

  it('parsePolicySpecs names the failing spec by position and wants an array', () => {
    expect(parsePolicySpecs([{ kind: 'nan' }, { kind: 'median' }])).toEqual([{ kind: 'nan' }, { kind: 'median' }]);
    expect(thrown(() => parsePolicySpecs([{ kind: 'nan' }, { kind: 'trend', window: 1 }])).message).toMatch(/^invalid policy spec #2: window: must be a whole number ≥ 3/);
    expect(thrown(() => parsePolicySpecs({ kind: 'nan' })).message).toBe('invalid policy specs: expected an array of policy specs, got object');
  });

  it('factories called directly validate their options too', () => {
    const e = thrown(() => plateauPolicy({ patience: 0 }));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toMatch(/^invalid plateau policy: patience: must be a whole number ≥ 1/);
    expect(() => banditPolicy({ slack: Number.NaN })).toThrow(ValidationError);
    expect(() => timeBudgetPolicy({ ms: -1 })).toThrow(/ms: must be a number of milliseconds > 0, got -1/);
  });
});

describe('createPolicy / createPolicies / checkPolicies', () => {
  it('builds the policy each kind names, keeping its spec', () => {
    const specs: PolicySpec[] = [
      { kind: 'nan' },
      { kind: 'time-budget', ms: 10 },
      { kind: 'plateau', patience: 2 },
      { kind: 'trend', window: 3 },
      { kind: 'median' },
      { kind: 'bandit', slack: 0.1 },
    ];
    for (const s of specs) expect(createPolicy(s).spec).toEqual(s);
  });

  it('passes the metric name through to reasons', () => {
    const v = createPolicy({ kind: 'plateau', patience: 1 }, { metric: 'val_acc' }).check(ctx(evals([0.5, 0.4]), 'maximize'));
    expect(v?.reason).toContain('on val_acc for 1 evaluation');
  });

  it('rejects bad specs that slipped past the types (e.g. from a queue)', () => {
    const e = thrown(() => createPolicy({ kind: 'plateau', patience: -1 }));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toContain('patience: must be a whole number ≥ 1');
    expect(() => createPolicy({ kind: 'oops' } as unknown as PolicySpec)).toThrow(/kind: must be one of nan, time-budget/);
  });

  it('createPolicies keeps order and names a bad spec by position', () => {
    const ps = createPolicies([{ kind: 'nan' }, { kind: 'time-budget', ms: 5 }]);
    expect(ps.map((p) => p.spec.kind)).toEqual(['nan', 'time-budget']);
    expect(createPolicies([])).toEqual([]);
    expect(thrown(() => createPolicies([{ kind: 'nan' }, { kind: 'bandit', slack: -1 }])).message).toMatch(/^invalid policy spec #2: slack:/);
  });

  it('checkPolicies returns the first verdict in the given order and stops there', () => {
    const history = evals([1, 2, 3]);
    const c = ctx(history, 'minimize', [], 1000);
    const plateau = createPolicy({ kind: 'plateau', patience: 2 });
    const budget = createPolicy({ kind: 'time-budget', ms: 500 });
    expect(checkPolicies([plateau, budget], c)?.policy).toBe('plateau');
    expect(checkPolicies([budget, plateau], c)?.policy).toBe('time-budget');
    const spy: Policy = { spec: { kind: 'nan' }, check: vi.fn(() => null) };
    checkPolicies([budget, spy], c);
    expect(spy.check).not.toHaveBeenCalled();
    checkPolicies([spy, budget], c);
    expect(spy.check).toHaveBeenCalledWith(c);
  });

  it('checkPolicies returns null when none fires or there are none', () => {
    const c = ctx(evals([3, 2, 1]), 'minimize', [], 10);
    expect(checkPolicies(createPolicies([{ kind: 'nan' }, { kind: 'plateau', patience: 2 }, { kind: 'trend', window: 3 }, { kind: 'time-budget', ms: 100 }]), c)).toBeNull();
    expect(checkPolicies([], c)).toBeNull();
  });
});
