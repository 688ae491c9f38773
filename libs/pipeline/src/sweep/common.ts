import { ValidationError } from '@cairn/schema';
import type { Params } from './space.ts';

/**
 * Search strategies. A strategy proposes trial i's params from the sweep's seed, i and
 * (for adaptive strategies) the results so far. Proposals are pure: the same space,
 * spec, seed, index, history and pending params give the same params, whatever the
 * order of `history` and whatever was proposed before in this process, so a scheduler
 * that restarts can recompute any trial.
 */

export type Direction = 'minimize' | 'maximize';

/**
 * How a trial ended. `value` is its objective: for finished trials the final (or best,
 * as the sweep's objective defines it) value; for abandoned ones the last value it
 * reported before early termination; NaN when there is none (failed, or never
 * evaluated).
 */
export type TrialStatus = 'finished' | 'abandoned' | 'failed';

export interface TrialResult {
  params: Params;
  value: number;
  status: TrialStatus;
}

export interface ProposeContext {
  /** 0-based trial index within the sweep. */
  index: number;
  /** Results of earlier trials, in any order (adaptive strategies only). */
  history?: readonly TrialResult[];
  /** Params of trials proposed and still in flight (adaptive strategies only). */
  pending?: readonly Params[];
}

export interface Strategy {
  readonly kind: StrategyKind;
  /** The number of distinct points (grid), or null when unbounded (random, tpe). */
  readonly size: number | null;
  /** True when proposals read the history (tpe); false when all can be planned up front. */
  readonly adaptive: boolean;
  propose(ctx: ProposeContext): Params;
}

export const STRATEGY_KINDS = ['grid', 'random', 'tpe'] as const;
export type StrategyKind = (typeof STRATEGY_KINDS)[number];

export const DEFAULT_GRID_POINTS = 5;
export const DEFAULT_MAX_GRID_SIZE = 10_000;
export const TPE_DEFAULTS = { startup: 10, gamma: 0.25, candidates: 24, priorWeight: 1 } as const;

export type GridSpec = { kind: 'grid'; gridPoints?: number; maxGridSize?: number };
export type RandomSpec = { kind: 'random' };
export type TpeSpec = { kind: 'tpe'; startup?: number; gamma?: number; candidates?: number; priorWeight?: number };
export type StrategySpec = GridSpec | RandomSpec | TpeSpec;

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

/** `a` strictly better than `b` in the given direction. */
export function isBetter(a: number, b: number, direction: Direction): boolean {
  return direction === 'minimize' ? a < b : a > b;
}

export function checkIndex(index: number, size: number | null, what: string): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new ValidationError(`trial index must be a whole number ≥ 0, got ${show(index)}`);
  if (size !== null && index >= size) throw new ValidationError(`${what} has ${size} points; trial index ${index} is past its end`);
}
