import { ValidationError, type Objective } from '@cairn/schema';
import type { PolicySpec, TruncationSpec } from '@cairn/engine';
import type { Store, SweepRecord } from '@cairn/store';
import type { JobSettings } from '../queued-run.ts';
import { MAX_TRIALS, parseSearchSpace, parseStrategySpec, type SearchSpace, type StrategySpec } from '../sweep/index.ts';

/*
 * A sweep's spec: what its sweep record stores, and reading it back. Nothing here loads
 * the training engine (types only), so the queues entry can read a sweep.
 */

export const SWEEP_SPEC_VERSION = 1;
/** Parallelism above this is refused: every trial in flight is a queued job and a run. */
export const MAX_PARALLEL = 10_000;

export type SweepPolicySpec = PolicySpec | TruncationSpec;

/** A sweep's spec, as its sweep record stores it. */
export interface SweepSpec {
  version: typeof SWEEP_SPEC_VERSION;
  space: SearchSpace;
  strategy: StrategySpec;
  seed: number;
  /** Trials in all (a grid smaller than what was asked for caps it). */
  maxTrials: number;
  /** Trials in flight (queued or running) at most. */
  parallel: number;
  objective: Objective;
  /** Early termination for every trial, on top of the tier's policies. */
  policies: SweepPolicySpec[];
  /** The queue prefix the trials are enqueued under. */
  prefix: string;
  job: JobSettings;
}

/** Strategy names as users give them: grid, random, tpe, and bayes for tpe. */
export function parseSweepStrategy(input: unknown): StrategySpec {
  if (input === 'bayes' || input === 'bayesian') return { kind: 'tpe' };
  if (input && typeof input === 'object' && (input as { kind?: unknown }).kind === 'bayes') return parseStrategySpec({ ...(input as object), kind: 'tpe' });
  return parseStrategySpec(input);
}

/**
 * A truncation selection spec (`{ kind: 'truncation', percent, minEvaluations? }`), the
 * sweep's own policy; `i` numbers it in messages.
 */
export function parseTruncation(p: Record<string, unknown>, i: number): TruncationSpec {
  const what = `invalid policy spec #${i + 1}`;
  const unknown = Object.keys(p).filter((k) => !['kind', 'percent', 'minEvaluations'].includes(k));
  if (unknown.length) throw new ValidationError(`${what}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')} for a truncation policy (allowed: percent, minEvaluations)`);
  const { percent, minEvaluations } = p;
  if (typeof percent !== 'number' || !(percent > 0 && percent < 100)) throw new ValidationError(`${what}: percent: must be a number greater than 0 and less than 100 (the share of trials cut at each evaluation), got ${String(percent)}`);
  if (minEvaluations !== undefined && (typeof minEvaluations !== 'number' || !Number.isInteger(minEvaluations) || minEvaluations < 1)) {
    throw new ValidationError(`${what}: minEvaluations: must be a whole number ≥ 1, got ${String(minEvaluations)}`);
  }
  return { kind: 'truncation', percent, ...(minEvaluations !== undefined ? { minEvaluations: minEvaluations as number } : {}) };
}

/**
 * Reads a stored spec back (the object a sweep record holds, or its JSON text), validating
 * it: a record written by an older Cairn, or copied from the tags of one, is checked as
 * strictly as a new spec. The engine's policies are checked by `parsePolicies`: the
 * default (readSweepPolicies) leaves their options to the engine, so that reading a
 * sweep (its state, a cancel) does not load the training engine; what trains or advances
 * a sweep reads it with parseSweepSpec, which checks them all.
 */
export function readSweepSpec(stored: unknown, parsePolicies: (input: unknown) => SweepPolicySpec[] = readSweepPolicies): SweepSpec {
  let raw: Record<string, unknown>;
  if (typeof stored === 'string') {
    try {
      raw = JSON.parse(stored) as Record<string, unknown>;
    } catch (e) {
      throw new ValidationError(`the sweep's spec is not JSON: ${(e as Error).message}`);
    }
  } else raw = stored as Record<string, unknown>;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError("the sweep's spec is not an object");
  if (raw.version !== SWEEP_SPEC_VERSION) throw new ValidationError(`the sweep's spec has version ${String(raw.version)}; this Cairn reads version ${SWEEP_SPEC_VERSION}`);
  const objective = raw.objective as Objective | undefined;
  if (!objective || typeof objective.metric !== 'string' || (objective.direction !== 'minimize' && objective.direction !== 'maximize')) throw new ValidationError("the sweep's spec has no valid objective");
  const int = (v: unknown, what: string, max: number): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) throw new ValidationError(`the sweep's spec has an invalid ${what}: ${String(v)}`);
    return v;
  };
  if (typeof raw.seed !== 'number' || !Number.isSafeInteger(raw.seed)) throw new ValidationError(`the sweep's spec has an invalid seed: ${String(raw.seed)}`);
  if (typeof raw.prefix !== 'string' || !raw.prefix) throw new ValidationError("the sweep's spec names no queue prefix");
  return {
    version: SWEEP_SPEC_VERSION,
    space: parseSearchSpace(raw.space),
    strategy: parseStrategySpec(raw.strategy),
    seed: raw.seed,
    maxTrials: int(raw.maxTrials, 'maxTrials', MAX_TRIALS),
    parallel: int(raw.parallel, 'parallel', MAX_PARALLEL),
    objective: { metric: objective.metric, direction: objective.direction },
    policies: parsePolicies(raw.policies ?? []),
    prefix: raw.prefix,
    job: (raw.job ?? {}) as JobSettings,
  };
}

/**
 * A sweep's policies as stored: a list, truncation specs checked here (they are the
 * sweep's own), the engine's kept as they are for the engine to check where it uses them
 * (parseSweepPolicies). The same messages as parseSweepPolicies for what both check.
 */
export function readSweepPolicies(input: unknown): SweepPolicySpec[] {
  if (!Array.isArray(input)) throw new ValidationError(POLICIES_NOT_A_LIST);
  return input.map((p, i) => (isTruncation(p) ? parseTruncation(p, i) : (p as PolicySpec)));
}

export const POLICIES_NOT_A_LIST = 'sweep policies must be an array of policy specs';

export function isTruncation(p: unknown): p is Record<string, unknown> {
  return !!p && typeof p === 'object' && (p as { kind?: unknown }).kind === 'truncation';
}

/**
 * The sweep whose parent is `runId`, with its spec read by `parse` (default readSweepSpec);
 * a ValidationError when the run is no sweep.
 */
export async function sweepRecord(store: Store, runId: string, parse: (stored: unknown) => SweepSpec = readSweepSpec): Promise<{ record: SweepRecord; spec: SweepSpec }> {
  const record = await store.getSweep(runId);
  if (!record) throw new ValidationError(`run ${runId} is not a sweep`);
  return { record, spec: parse(record.spec) };
}
