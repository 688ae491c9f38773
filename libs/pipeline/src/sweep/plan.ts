import { ValidationError } from '@cairn/schema';
import { type Direction, type Strategy, type StrategyKind, type StrategySpec, type TrialResult, TPE_DEFAULTS, show } from './common.ts';
import { type Params, type SearchSpace, parseSearchSpace } from './space.ts';
import { createStrategy, parseStrategySpec } from './strategies.ts';

/** The most trials one sweep may ask for. */
export const MAX_TRIALS = 100_000;

export interface PlanSweepInput {
  /** Validated again here (it may come straight from a request or a queue). */
  space: SearchSpace;
  /** A spec or a bare kind ('grid', 'random', 'tpe' with their defaults). */
  strategy: StrategySpec | StrategyKind;
  /** 1..MAX_TRIALS. A grid smaller than this runs each point once and stops there. */
  maxTrials: number;
  /** Any safe integer. */
  seed: number;
  /** The objective's direction; required for tpe. */
  direction?: Direction;
}

export interface TrialProposal {
  /** 0-based trial index within the sweep. */
  index: number;
  params: Params;
}

export interface NextTrialOptions {
  /**
   * The trial index to propose for; default history.length + pending.length (every
   * trial so far has a result or is pending). Pass it explicitly when the scheduler
   * tracks indexes itself: the proposal for an index is a pure function of the inputs, so
   * a restarted scheduler that asks for the same index with the same results gets the
   * same params.
   */
  index?: number;
  /** Params of trials in flight (tpe counts them as bad: the constant liar). */
  pending?: readonly Params[];
}

export interface SweepPlan {
  space: SearchSpace;
  spec: StrategySpec;
  strategy: Strategy;
  seed: number;
  /** Trials the sweep will run: maxTrials, or the grid's size when that is smaller. */
  maxTrials: number;
  /** The grid's size for grid sweeps, else null. */
  gridSize: number | null;
  /**
   * Trials whose params are fixed in advance, trial i at position i: every trial for
   * grid and random; the `startup` random trials for tpe (capped at maxTrials). They can
   * all be enqueued at once; the sweep's parallelism limits how many run.
   */
  initial: Params[];
  /**
   * Proposes the next trial, or null when the sweep has had all its trials. For grid and
   * random it returns what `initial` holds for that index; for tpe it reads `history`
   * (results of earlier trials, any order; abandoned and failed ones included).
   */
  nextTrial(history: readonly TrialResult[], options?: NextTrialOptions): TrialProposal | null;
}

/**
 * Plans a sweep: validates the inputs (ValidationError on any of them), builds the
 * strategy (a grid over its cap is refused here) and proposes the trials that do not
 * depend on results. Pure and synchronous: nothing is stored or enqueued.
 */
export function planSweep(input: PlanSweepInput): SweepPlan {
  const space = parseSearchSpace(input.space);
  const spec = parseStrategySpec(input.strategy);
  const { seed, direction } = input;
  if (!Number.isSafeInteger(input.maxTrials) || input.maxTrials < 1 || input.maxTrials > MAX_TRIALS) {
    throw new ValidationError(`invalid maxTrials: must be a whole number from 1 to ${MAX_TRIALS}, got ${show(input.maxTrials)}`);
  }
  const strategy = createStrategy(space, spec, direction === undefined ? { seed } : { seed, direction });
  const maxTrials = strategy.size === null ? input.maxTrials : Math.min(input.maxTrials, strategy.size);
  const fixed = strategy.adaptive ? Math.min(maxTrials, spec.kind === 'tpe' ? (spec.startup ?? TPE_DEFAULTS.startup) : 0) : maxTrials;
  const initial: Params[] = new Array(fixed);
  for (let i = 0; i < fixed; i++) initial[i] = strategy.propose({ index: i });
  return {
    space,
    spec,
    strategy,
    seed,
    maxTrials,
    gridSize: strategy.kind === 'grid' ? strategy.size : null,
    initial,
    nextTrial(history, options = {}) {
      const pending = options.pending ?? [];
      const index = options.index ?? history.length + pending.length;
      if (!Number.isSafeInteger(index) || index < 0) throw new ValidationError(`trial index must be a whole number ≥ 0, got ${show(index)}`);
      if (index >= maxTrials) return null;
      if (index < initial.length) return { index, params: { ...initial[index]! } };
      return { index, params: strategy.propose({ index, history, pending }) };
    },
  };
}
