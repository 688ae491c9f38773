import { describe, expect, it } from 'vitest';
import { ValidationError } from '@cairn/schema';
import { MAX_TRIALS, planSweep } from './plan.ts';
import type { SearchSpace } from './space.ts';
import { parseStrategySpec, type TrialResult } from './strategies.ts';

const space = {
  lr: { type: 'loguniform', min: 1e-4, max: 1e-1 },
  units: { type: 'int', min: 8, max: 128, step: 8 },
  opt: { type: 'choice', values: ['adam', 'sgd'] },
  dropout: { type: 'uniform', min: 0, max: 0.5 },
} as SearchSpace;

describe('planSweep', () => {
  it('plans every random trial up front, reproducibly', () => {
    const plan = planSweep({ space, strategy: 'random', maxTrials: 1000, seed: 7 });
    expect(plan.initial).toHaveLength(1000);
    expect(plan.maxTrials).toBe(1000);
    expect(plan.gridSize).toBeNull();
    expect(plan.strategy.adaptive).toBe(false);
    expect(planSweep({ space, strategy: { kind: 'random' }, maxTrials: 1000, seed: 7 }).initial).toEqual(plan.initial);
    expect(planSweep({ space, strategy: 'random', maxTrials: 1000, seed: 8 }).initial).not.toEqual(plan.initial);
    // a shorter sweep with the same seed is a prefix
    expect(planSweep({ space, strategy: 'random', maxTrials: 10, seed: 7 }).initial).toEqual(plan.initial.slice(0, 10));
  });

  it('nextTrial repeats the planned params for non-adaptive strategies and stops at maxTrials', () => {
    const plan = planSweep({ space, strategy: 'random', maxTrials: 5, seed: 1 });
    expect(plan.nextTrial([])).toEqual({ index: 0, params: plan.initial[0] });
    const h: TrialResult[] = [{ params: plan.initial[0]!, value: 1, status: 'finished' }];
    expect(plan.nextTrial(h, { pending: [plan.initial[1]!] })).toEqual({ index: 2, params: plan.initial[2] });
    expect(plan.nextTrial([], { index: 4 })?.index).toBe(4);
    expect(plan.nextTrial([], { index: 5 })).toBeNull();
    // the returned params are a copy
    plan.nextTrial([], { index: 0 })!.params.opt = 'changed';
    expect(plan.initial[0]!.opt).not.toBe('changed');
    expect(() => plan.nextTrial([], { index: -1 })).toThrow(ValidationError);
  });

  it('caps a grid sweep at the grid size', () => {
    const small = { opt: space.opt!, units: { type: 'int', min: 1, max: 3 } } as SearchSpace;
    const plan = planSweep({ space: small, strategy: 'grid', maxTrials: 100, seed: 0 });
    expect(plan.gridSize).toBe(6);
    expect(plan.maxTrials).toBe(6);
    expect(plan.initial).toEqual([
      { opt: 'adam', units: 1 },
      { opt: 'adam', units: 2 },
      { opt: 'adam', units: 3 },
      { opt: 'sgd', units: 1 },
      { opt: 'sgd', units: 2 },
      { opt: 'sgd', units: 3 },
    ]);
    expect(plan.nextTrial([], { index: 6 })).toBeNull();
    // fewer trials than points: the first ones in grid order
    expect(planSweep({ space: small, strategy: 'grid', maxTrials: 2, seed: 0 }).initial).toEqual(plan.initial.slice(0, 2));
  });

  it('passes grid options through and refuses an oversized grid', () => {
    expect(planSweep({ space, strategy: { kind: 'grid', gridPoints: 2 }, maxTrials: 10_000, seed: 0 }).gridSize).toBe(2 * 16 * 2 * 2);
    expect(() => planSweep({ space, strategy: { kind: 'grid', maxGridSize: 100 }, maxTrials: 10, seed: 0 })).toThrow(/800 points .*more than the cap of 100/);
  });

  it('plans the startup trials of a tpe sweep and proposes the rest from results', () => {
    const plan = planSweep({ space, strategy: { kind: 'tpe', startup: 4 }, maxTrials: 12, seed: 3, direction: 'maximize' });
    expect(plan.strategy.adaptive).toBe(true);
    expect(plan.initial).toHaveLength(4);
    expect(plan.initial).toEqual(planSweep({ space, strategy: 'random', maxTrials: 4, seed: 3 }).initial);
    const history: TrialResult[] = [];
    for (let i = 0; i < 12; i++) {
      const next = plan.nextTrial(history)!;
      expect(next.index).toBe(i);
      if (i < 4) expect(next.params).toEqual(plan.initial[i]);
      history.push({ params: next.params, value: (next.params.units as number) / 128, status: 'finished' });
    }
    expect(plan.nextTrial(history)).toBeNull();
    // a restarted scheduler asking again for trial 8 with the same results gets the same params
    const again = planSweep({ space, strategy: { kind: 'tpe', startup: 4 }, maxTrials: 12, seed: 3, direction: 'maximize' });
    expect(again.nextTrial(history.slice(0, 8))).toEqual({ index: 8, params: history[8]!.params });
    expect(planSweep({ space, strategy: 'tpe', maxTrials: 3, seed: 1, direction: 'minimize' }).initial).toHaveLength(3);
  });

  it('validates its inputs with readable messages', () => {
    const bad = (input: Partial<Parameters<typeof planSweep>[0]>) => () => planSweep({ space, strategy: 'random', maxTrials: 10, seed: 1, ...input } as never);
    expect(bad({ maxTrials: 0 })).toThrow(`invalid maxTrials: must be a whole number from 1 to ${MAX_TRIALS}, got 0`);
    expect(bad({ maxTrials: 2.5 })).toThrow(ValidationError);
    expect(bad({ maxTrials: MAX_TRIALS + 1 })).toThrow(ValidationError);
    expect(bad({ seed: 1.5 })).toThrow('invalid seed: must be a safe integer, got 1.5');
    expect(bad({ space: {} as SearchSpace })).toThrow('invalid search space: a search space must define at least one parameter');
    expect(bad({ strategy: 'bayes' as never })).toThrow('invalid strategy: kind: strategy must be one of grid, random, tpe (got "bayes")');
    expect(bad({ strategy: 'tpe' })).toThrow("a tpe sweep needs the objective's direction");
    expect(bad({ space: { lr: { type: 'loguniform', min: 0, max: 1 } } as SearchSpace })).toThrow(/lr\.min: loguniform min must be greater than 0/);
  });
});

describe('parseStrategySpec', () => {
  it('accepts names and specs', () => {
    expect(parseStrategySpec('grid')).toEqual({ kind: 'grid' });
    expect(parseStrategySpec({ kind: 'tpe', startup: 5, gamma: 0.1, candidates: 64, priorWeight: 2 })).toEqual({ kind: 'tpe', startup: 5, gamma: 0.1, candidates: 64, priorWeight: 2 });
  });

  it('rejects bad options with the rule', () => {
    const msg = (x: unknown) => {
      try {
        parseStrategySpec(x);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(msg({ kind: 'tpe', gamma: 1 })).toBe('invalid strategy: gamma: must be a number between 0 and 1, exclusive (fraction of trials counted as good), got 1');
    expect(msg({ kind: 'tpe', startup: 0 })).toContain('startup: must be a whole number from 1 to 10000');
    expect(msg({ kind: 'grid', gridPoints: 1 })).toContain('gridPoints: must be a whole number from 2 to 1000');
    expect(msg({ kind: 'random', seed: 3 })).toBe('invalid strategy: unknown option "seed" for the random strategy (it takes no options)');
    expect(msg({ kind: 'tpe', startp: 3 })).toContain('unknown option "startp" for the tpe strategy (allowed: startup, gamma, candidates, priorWeight)');
    expect(msg(3)).toContain('a strategy must be a name or an object');
  });
});
