import { randomInt, randomUUID } from 'node:crypto';
import path from 'node:path';
import { CairnError, InvalidStateError, ValidationError, type Objective } from '@cairn/schema';
import { TIERS, loadDefinition, parsePolicySpecs, resolveParams, type PeerCurve, type Policy, type PolicyContext, type PolicySpec, type Tier, type TruncationSpec, type Verdict } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { RunDetail, RunStatus, Store, SweepRecord, SweepStatus } from '@cairn/store';
import type { TierQueues } from './queues.ts';
import { bullJobOptions, pinSnapshot, storeCodeBundle, storedParams, type JobSettings } from './submit.ts';
import { cancelChannel, cancelRun } from './worker.ts';
import { recordObjective } from './objective-tag.ts';
import {
  MAX_TRIALS,
  createStrategy,
  leaderboard,
  parseSearchSpace,
  parseStrategySpec,
  planSweep,
  truncationVerdict,
  type LeaderboardRow,
  type LeaderboardStatus,
  type Params,
  type SearchSpace,
  type StrategySpec,
  type TrialResult,
} from './sweep/index.ts';

/*
 * Sweeps on the queue. A sweep is a parent run plus one child run per trial, and its
 * whole state lives in the store, so any worker (or a restarted one) can carry it on:
 *
 * - the parent run (status `running` until the sweep ends) holds the code bundle, the
 *   pinned snapshot and the fixed params; its sweep record (store.getSweep: the `sweeps`
 *   table) holds the spec (space, strategy, seed, maxTrials, parallel, objective,
 *   policies, queue prefix, job options), the sweep's status and its best trial so far;
 * - trial i is a child run (`parentRunId` = the parent) with a trial record (the
 *   `sweep_trials` table: index i, unique per sweep, and its own params), the parent's
 *   code bundle and snapshot, and params = fixed ∪ trial params.
 *
 * None of it is read from tags, which users edit freely: only the pipeline writes sweep
 * records, so editing a run's tags cannot change what a sweep does.
 *
 * advanceSweep reads that back, counts trials in flight (queued or running) and ended,
 * and creates the next ones up to `parallel` in flight and `maxTrials` in all; a proposal
 * is a pure function of the spec, the trial index and the ended trials' results, so a
 * restarted scheduler proposes what the old one would have. Trial indexes stay unique
 * because every advance (and a cancel) holds a Redis lock per sweep. When every trial
 * has ended, the parent ends `finished` with a leaderboard note and its best objective.
 * Workers advance a trial's sweep when the trial ends, and every sweep of their queue
 * prefix when they start and every `sweepIntervalMs` (a trial that ended while no worker
 * was listening, a trial cancelled by hand).
 */

export const SWEEP_SPEC_VERSION = 1;
/** Parallelism above this is refused: every trial in flight is a queued job and a run. */
export const MAX_PARALLEL = 10_000;
/** Ended sibling trials a trial compares itself against (median, bandit, truncation). */
export const MAX_SWEEP_PEERS = 200;
/** Leaderboard rows written into the parent's note. */
export const NOTE_ROWS = 100;
const LOCK_TTL_MS = 60_000;
/** Trial runs created at once by an advance. */
const CREATE_CONCURRENCY = 8;
const DEFAULT_LOCK_WAIT_MS = 120_000;
const IN_FLIGHT: readonly RunStatus[] = ['queued', 'running'];

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

// ---------------------------------------------------------------------------------------
// specs

/** Strategy names as users give them: grid, random, tpe, and bayes for tpe. */
export function parseSweepStrategy(input: unknown): StrategySpec {
  if (input === 'bayes' || input === 'bayesian') return { kind: 'tpe' };
  if (input && typeof input === 'object' && (input as { kind?: unknown }).kind === 'bayes') return parseStrategySpec({ ...(input as object), kind: 'tpe' });
  return parseStrategySpec(input);
}

/**
 * Early-termination policies for a sweep's trials: the engine's specs (median and bandit
 * compare a trial with its ended siblings) plus truncation selection
 * `{ kind: 'truncation', percent, minEvaluations? }`.
 */
export function parseSweepPolicies(input: unknown): SweepPolicySpec[] {
  if (!Array.isArray(input)) throw new ValidationError('sweep policies must be an array of policy specs');
  return input.map((p, i) => {
    if (p && typeof p === 'object' && (p as { kind?: unknown }).kind === 'truncation') return parseTruncation(p as Record<string, unknown>, i);
    return parsePolicySpecs([p])[0]!;
  });
}

function parseTruncation(p: Record<string, unknown>, i: number): TruncationSpec {
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
 * strictly as a new spec.
 */
export function parseSweepSpec(stored: unknown): SweepSpec {
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
    policies: parseSweepPolicies(raw.policies ?? []),
    prefix: raw.prefix,
    job: (raw.job ?? {}) as JobSettings,
  };
}

/** The sweep whose parent is `runId`, with its spec validated; a ValidationError when the run is no sweep. */
async function sweepRecord(store: Store, runId: string): Promise<{ record: SweepRecord; spec: SweepSpec }> {
  const record = await store.getSweep(runId);
  if (!record) throw new ValidationError(`run ${runId} is not a sweep`);
  return { record, spec: parseSweepSpec(record.spec) };
}

// ---------------------------------------------------------------------------------------
// starting

export interface StartSweepOptions {
  store: Store;
  blobs: LocalBlobStore;
  queues: TierQueues;
  /** The training module (loaded here to check it, then bundled once for every trial). */
  file: string;
  tier: Tier;
  /** The search space as JSON (parseSearchSpace validates it). */
  space: unknown;
  /** A spec or a name: grid, random, tpe (or bayes). Default random. */
  strategy?: unknown;
  /** Trials in all (1..MAX_TRIALS); a grid defaults to (and is capped at) its size. */
  maxTrials?: number;
  /** Trials in flight at most. */
  parallel: number;
  /** Default: a random one, recorded on the parent. */
  seed?: number;
  /** Params every trial shares (checked against the definition with the trials' own). */
  params?: Record<string, unknown>;
  dataset?: string;
  snapshot?: string;
  experiment?: string;
  /** Default: the definition's objective. */
  objective?: Partial<Objective>;
  /** Early termination for every trial (see parseSweepPolicies). */
  policies?: unknown[];
  tags?: Record<string, string>;
  /** The tier's job options (priority, attempts, backoff) for every trial's job. */
  job?: JobSettings;
  lockWaitMs?: number;
}

export interface StartedSweep {
  parentId: string;
  parentName: string;
  experimentId: string;
  codeHash: string;
  snapshotId: string;
  spec: SweepSpec;
  /** The fixed params (resolved, defaults filled, swept ones left out). */
  params: Record<string, unknown>;
  /** Trials created and enqueued now (the first `parallel`). */
  trials: string[];
  /** Grid size for grid sweeps. */
  gridSize: number | null;
}

/**
 * Starts a sweep: validates the space, strategy, policies and objective, plans the trials
 * (every planned trial's params are checked against the definition's schema, so a bad
 * space fails here, before anything is created), bundles the code once, creates the parent
 * run and the first `parallel` trials, and enqueues them.
 */
export async function startSweep(o: StartSweepOptions): Promise<StartedSweep> {
  if (!(TIERS as readonly string[]).includes(o.tier)) throw new ValidationError(`unknown tier '${o.tier}': the tiers are ${TIERS.join(', ')}`);
  const space = parseSearchSpace(o.space);
  const strategy = parseSweepStrategy(o.strategy ?? 'random');
  if (!Number.isSafeInteger(o.parallel) || o.parallel < 1 || o.parallel > MAX_PARALLEL) throw new ValidationError(`parallel must be a whole number from 1 to ${MAX_PARALLEL}, got ${String(o.parallel)}`);
  if (o.maxTrials === undefined && strategy.kind !== 'grid') throw new ValidationError(`a ${strategy.kind} sweep needs its number of trials (maxTrials)`);
  const seed = o.seed ?? randomInt(0, 2 ** 31);
  const policies = parseSweepPolicies(o.policies ?? []);

  const loaded = await loadDefinition(o.file);
  const def = loaded.definition;
  const objective: Objective = { metric: o.objective?.metric ?? def.objective.metric, direction: o.objective?.direction ?? def.objective.direction };
  if (objective.direction !== 'minimize' && objective.direction !== 'maximize') throw new ValidationError(`the objective's direction must be minimize or maximize, got ${String(objective.direction)}`);
  const plan = planSweep({ space, strategy, maxTrials: o.maxTrials ?? MAX_TRIALS, seed, direction: objective.direction });

  // Params: fixed ones may not be swept too; every swept name must be one the definition takes.
  const fixed = o.params ?? {};
  const both = Object.keys(space).filter((k) => k in fixed);
  if (both.length) throw new ValidationError(`param${both.length > 1 ? 's' : ''} ${both.join(', ')} ${both.length > 1 ? 'are' : 'is'} both fixed and swept: leave ${both.length > 1 ? 'them' : 'it'} out of the params or the space`);
  const resolvedFixed = resolveParams(def, fixed);
  for (const params of plan.initial) {
    const resolved = resolveParams(def, { ...fixed, ...params });
    const unknown = Object.keys(params).filter((k) => !(k in resolved));
    if (unknown.length) throw new ValidationError(`the space sweeps ${unknown.map((k) => `'${k}'`).join(', ')}, which ${def.name} does not take as a param`);
  }
  if (plan.initial.length === 0) {
    const unknown = Object.keys(space).filter((k) => !(k in resolvedFixed));
    if (unknown.length) throw new ValidationError(`the space sweeps ${unknown.map((k) => `'${k}'`).join(', ')}, which ${def.name} does not take as a param`);
  }
  const parentParams = Object.fromEntries(Object.entries(resolvedFixed).filter(([k]) => !(k in space)));

  const spec: SweepSpec = { version: SWEEP_SPEC_VERSION, space: plan.space, strategy: plan.spec, seed, maxTrials: plan.maxTrials, parallel: o.parallel, objective, policies, prefix: o.queues.prefix, job: o.job ?? {} };
  const specText = JSON.stringify(spec);
  if (Buffer.byteLength(specText) > 64 * 1024) throw new ValidationError('the sweep spec is over 64 KiB as JSON: use a smaller space');

  const snapshotId = await pinSnapshot(o.store, o);
  const code = await storeCodeBundle(o.blobs, o.file, path.dirname(loaded.path));
  const experiment = await o.store.ensureExperiment({ name: o.experiment ?? def.name });
  await recordObjective(o.store, experiment, objective);
  const { run: parent } = await o.store.createSweep({
    run: {
      experimentId: experiment.id,
      status: 'running',
      tier: o.tier,
      code,
      snapshotIds: [snapshotId],
      params: storedParams(parentParams),
      tags: { definition: def.name, module: path.relative(process.cwd(), loaded.path), ...(o.tags ?? {}) },
    },
    sweep: { strategy: spec.strategy.kind, spec: JSON.parse(specText) as Record<string, unknown>, objective, prefix: spec.prefix, maxTrials: spec.maxTrials, parallel: spec.parallel },
  });
  const progress = await advanceSweep(parent.id, { store: o.store, queues: o.queues, ...(o.lockWaitMs !== undefined ? { lockWaitMs: o.lockWaitMs } : {}) });
  return {
    parentId: parent.id,
    parentName: parent.name,
    experimentId: experiment.id,
    codeHash: code.codeHash,
    snapshotId,
    spec,
    params: parentParams,
    trials: progress.created,
    gridSize: plan.gridSize,
  };
}

// ---------------------------------------------------------------------------------------
// reading a sweep back

export interface SweepTrial {
  index: number;
  runId: string;
  name: string;
  status: RunStatus;
  reason: string | null;
  /** The trial's own (swept) params. */
  params: Params;
  /**
   * Its objective: the last value for ended trials (an abandoned trial's last value before
   * it was stopped), the best so far for running ones, NaN when it has none.
   */
  value: number;
}

export type SweepLeaderboardRow = LeaderboardRow & { index: number; runStatus: RunStatus };

export interface SweepState {
  parent: RunDetail;
  /** The sweep's record: its status and best trial as the pipeline recorded them. */
  record: SweepRecord;
  spec: SweepSpec;
  /** By trial index. */
  trials: SweepTrial[];
  counts: Record<RunStatus, number>;
  /** Best first (see leaderboard()); `runStatus` is the trial run's own status (a cancelled trial ranks as failed). */
  leaderboard: SweepLeaderboardRow[];
  /** Every trial created and ended. */
  complete: boolean;
}

/** A trial's run with its index and own params, from its trial record. */
export interface TrialRun {
  index: number;
  params: Params;
  run: RunDetail;
}

/** Trial runs read per query. */
const READ_BATCH = 1_000;

/** A sweep's trials (from its trial records), by index. */
export async function listTrialRuns(store: Store, parentId: string): Promise<TrialRun[]> {
  const records = await store.listSweepTrials(parentId);
  const out: TrialRun[] = [];
  for (let i = 0; i < records.length; i += READ_BATCH) {
    const batch = records.slice(i, i + READ_BATCH);
    const runs = new Map((await store.getRuns(batch.map((t) => t.runId))).map((r) => [r.id, r]));
    for (const t of batch) {
      const run = runs.get(t.runId);
      if (run) out.push({ index: t.index, params: t.params as Params, run });
    }
  }
  return out;
}

/** A trial's objective as SweepTrial.value describes it. */
export function objectiveValue(run: Pick<RunDetail, 'status' | 'metrics'>, objective: Objective): number {
  const m = run.metrics[objective.metric];
  if (!m) return Number.NaN;
  if (run.status === 'running') {
    const best = objective.direction === 'minimize' ? m.min : m.max;
    return best ?? Number.NaN;
  }
  if (run.status === 'queued') return Number.NaN;
  return m.last;
}

function toTrial({ index, params, run }: TrialRun, spec: SweepSpec): SweepTrial {
  return { index, runId: run.id, name: run.name, status: run.status, reason: run.statusReason, params, value: objectiveValue(run, spec.objective) };
}

function ended(status: RunStatus): boolean {
  return !IN_FLIGHT.includes(status);
}

function leaderboardOf(trials: readonly SweepTrial[], spec: SweepSpec): SweepLeaderboardRow[] {
  const byRun = new Map(trials.map((t) => [t.runId, t]));
  const rows = leaderboard(
    trials.map((t) => {
      const status: LeaderboardStatus = t.status === 'cancelled' ? 'failed' : t.status;
      return { runId: t.runId, params: t.params, value: t.value, status, ...(t.reason ? { reason: t.reason } : {}) };
    }),
    spec.objective.direction,
  );
  return rows.map((r) => ({ ...r, index: byRun.get(r.runId)!.index, runStatus: byRun.get(r.runId)!.status }));
}

function countStatuses(trials: readonly SweepTrial[]): Record<RunStatus, number> {
  const counts: Record<RunStatus, number> = { queued: 0, running: 0, finished: 0, failed: 0, abandoned: 0, cancelled: 0 };
  for (const t of trials) counts[t.status]++;
  return counts;
}

/** Everything about a sweep: its parent, spec, trials by index and leaderboard. */
export async function sweepState(store: Store, parentId: string): Promise<SweepState> {
  const parent = await store.getRun(parentId);
  const { record, spec } = await sweepRecord(store, parent.id);
  const trials = (await listTrialRuns(store, parent.id)).map((r) => toTrial(r, spec));
  return stateOf(parent, record, spec, trials);
}

function stateOf(parent: RunDetail, record: SweepRecord, spec: SweepSpec, trials: SweepTrial[]): SweepState {
  const counts = countStatuses(trials);
  return { parent, record, spec, trials, counts, leaderboard: leaderboardOf(trials, spec), complete: trials.length >= spec.maxTrials && trials.every((t) => ended(t.status)) };
}

// ---------------------------------------------------------------------------------------
// advancing

export interface SweepDeps {
  store: Store;
  /** The queues trials go on; its connection holds the sweep's lock. */
  queues: TierQueues;
  /** How long to wait for another advance of the same sweep (default 2 min). */
  lockWaitMs?: number;
}

export interface SweepProgress {
  parentId: string;
  /** The parent's status after this call. */
  status: RunStatus;
  maxTrials: number;
  /** Trial runs created (and enqueued) by this call. */
  created: string[];
  /** Trials in flight (queued or running) and ended, after this call. */
  inFlight: number;
  ended: number;
  /** This call ended the parent. */
  completed: boolean;
  /** The best trial so far, if any has an objective value. */
  best: { runId: string; index: number; value: number } | null;
}

/** Holds the sweep's lock (SET NX PX, released only by its holder) while `fn` runs; waits for it when another holds it. */
async function withSweepLock<T>(queues: TierQueues, parentId: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const redis = queues.connection;
  const key = `${queues.prefix}:sweep-lock:${parentId}`;
  const token = randomUUID();
  const deadline = Date.now() + waitMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    if ((await redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') break;
    if (Date.now() >= deadline) throw new CairnError('INVALID_STATE', `sweep ${parentId} is being advanced by another process (lock ${key} held for over ${Math.round(waitMs / 1000)} s)`);
    await new Promise((r) => setTimeout(r, delay));
  }
  // Kept alive while held, so a long advance (thousands of trials) never outlives it.
  const keepAlive = setInterval(() => {
    redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end", 1, key, token, LOCK_TTL_MS).catch(() => undefined);
  }, LOCK_TTL_MS / 3);
  keepAlive.unref();
  try {
    return await fn();
  } finally {
    clearInterval(keepAlive);
    await redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, token).catch(() => undefined);
  }
}

/**
 * Moves a sweep on: creates and enqueues trials until `parallel` are in flight or
 * `maxTrials` exist, and ends the parent `finished` (leaderboard note, best objective)
 * once every trial has ended. Idempotent and safe to call from any number of processes at
 * once: calls for the same sweep take turns on a Redis lock, and each reads the trials
 * afresh, so a trial index is never created twice. A sweep whose parent is no longer
 * running (cancelled, failed) is left alone. With `repair`, queued trials are enqueued
 * again (a no-op for jobs that exist: the job id is the run id), for a process that
 * died between creating a trial and enqueueing it.
 */
export async function advanceSweep(parentId: string, deps: SweepDeps, options: { repair?: boolean } = {}): Promise<SweepProgress> {
  return withSweepLock(deps.queues, parentId.toLowerCase(), deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, () => advanceLocked(parentId, deps, options));
}

async function advanceLocked(parentId: string, deps: SweepDeps, options: { repair?: boolean }): Promise<SweepProgress> {
  const { store, queues } = deps;
  const parent = await store.getRun(parentId);
  const { record, spec } = await sweepRecord(store, parent.id);
  const runs = await listTrialRuns(store, parent.id);
  const trials = runs.map((r) => toTrial(r, spec));
  const progress = (status: RunStatus, created: string[], completed: boolean, all: SweepTrial[]): SweepProgress => {
    const top = leaderboardOf(all, spec).find((r) => Number.isFinite(r.value) && r.status !== 'failed' && r.status !== 'queued');
    return {
      parentId: parent.id,
      status,
      maxTrials: spec.maxTrials,
      created,
      inFlight: all.filter((t) => !ended(t.status)).length,
      ended: all.filter((t) => ended(t.status)).length,
      completed,
      best: top ? { runId: top.runId, index: top.index, value: top.value } : null,
    };
  };
  if (parent.status !== 'running' || record.status !== 'running') {
    // The parent ended without the sweep's record saying so (cancelled by hand, declared
    // lost, or a process that died between the two writes): the record follows it.
    if (record.status === 'running') await store.updateSweep(parent.id, { status: sweepStatusOf(parent.status), best: bestOf(spec, trials) });
    return progress(parent.status, [], false, trials);
  }
  if (spec.prefix !== queues.prefix) throw new ValidationError(`sweep ${parent.id} queues its trials under prefix '${spec.prefix}', not '${queues.prefix}'`);
  await store.heartbeat(parent.id);

  const tier = (TIERS as readonly string[]).includes(parent.tier ?? '') ? (parent.tier as Tier) : 'extended';
  if (options.repair) {
    for (const { run: r } of runs) if (r.status === 'queued') await queues.enqueue(tier, r.id, bullJobOptions(spec.job));
  }

  const inFlight = trials.filter((t) => !ended(t.status));
  const done = trials.filter((t) => ended(t.status));
  await logBest(store, record, spec, trials);
  if (trials.length >= spec.maxTrials && inFlight.length === 0) {
    await completeSweep(store, parent, record, spec, trials);
    return progress((await store.getRun(parent.id)).status, [], true, trials);
  }

  const slots = Math.min(spec.parallel - inFlight.length, spec.maxTrials - trials.length);
  if (slots <= 0) return progress('running', [], false, trials);
  const taken = new Set(trials.map((t) => t.index));
  const indexes: number[] = [];
  for (let i = 0; indexes.length < slots && i < spec.maxTrials; i++) if (!taken.has(i)) indexes.push(i);

  const strategy = createStrategy(spec.space, spec.strategy, { seed: spec.seed, direction: spec.objective.direction });
  const history: TrialResult[] | undefined = strategy.adaptive
    ? done.map((t) => ({ params: t.params, value: t.value, status: t.status === 'finished' ? 'finished' : t.status === 'abandoned' ? 'abandoned' : 'failed' }))
    : undefined;
  const pending: Params[] = inFlight.map((t) => t.params);
  const code = { gitSha: parent.gitSha, gitDirty: parent.gitDirty, codeHash: parent.codeHash! };
  const jobOptions = bullJobOptions(spec.job);
  // Proposals first (each tpe proposal counts the ones before it as pending), then the runs,
  // a few at a time (a shared store takes several writes at once).
  const proposals = indexes.map((index) => {
    const params = strategy.adaptive ? strategy.propose({ index, history: history!, pending }) : strategy.propose({ index });
    pending.push(params);
    return { index, params };
  });
  const created: string[] = new Array(proposals.length);
  const all = [...trials];
  await eachLimit(proposals, CREATE_CONCURRENCY, async ({ index, params }, k) => {
    const run = await store.createSweepTrial(
      parent.id,
      { index, params },
      {
        experimentId: parent.experimentId,
        name: `${parent.name}-t${index}`,
        status: 'queued',
        tier,
        code,
        snapshotIds: parent.snapshotIds,
        params: { ...parent.params, ...storedParams(params) },
        tags: pickTags(parent.tags, ['definition', 'module']),
        queuePrefix: queues.prefix,
      },
    );
    await queues.enqueue(tier, run.id, jobOptions);
    created[k] = run.id;
    all.push({ index, runId: run.id, name: run.name, status: 'queued', reason: null, params, value: Number.NaN });
  });
  return progress('running', created, false, all);
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function pickTags(tags: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => tags[k] !== undefined).map((k) => [k, tags[k]!]));
}

/** The best ended trial (finished or abandoned, with a finite objective), or null. */
function bestOf(spec: SweepSpec, trials: readonly SweepTrial[]): { runId: string; trial: number; value: number } | null {
  const endedTrials = trials.filter((t) => ended(t.status) && t.status !== 'failed' && t.status !== 'cancelled' && Number.isFinite(t.value));
  if (!endedTrials.length) return null;
  const best = endedTrials.reduce((a, b) => ((spec.objective.direction === 'minimize' ? b.value < a.value : b.value > a.value) ? b : a));
  return { runId: best.runId, trial: best.index, value: best.value };
}

/**
 * The sweep's best so far: on its record, and as the objective metric on the parent at
 * step = trials ended (so the parent's curve is the sweep's progress).
 */
async function logBest(store: Store, record: SweepRecord, spec: SweepSpec, trials: readonly SweepTrial[]): Promise<void> {
  const best = bestOf(spec, trials);
  if (!best) return;
  if (record.best?.runId !== best.runId || record.best.value !== best.value) await store.updateSweep(record.parentRunId, { best });
  const step = trials.filter((t) => ended(t.status)).length;
  await store.logMetrics(record.parentRunId, [{ key: spec.objective.metric, value: best.value, step }]);
}

/** The sweep status that mirrors how its parent run ended. */
function sweepStatusOf(status: RunStatus): SweepStatus {
  return status === 'finished' || status === 'cancelled' ? status : status === 'queued' || status === 'running' ? 'running' : 'failed';
}

/**
 * Ends a sweep whose trials have all ended: the leaderboard note, then the parent run and
 * the sweep's record (in that order: a process dying between the two leaves a parent that
 * ended, which the next advance sees and copies to the record).
 */
async function completeSweep(store: Store, parent: RunDetail, record: SweepRecord, spec: SweepSpec, trials: SweepTrial[]): Promise<void> {
  const state = stateOf(parent, record, spec, trials);
  const top = state.leaderboard.find((r) => Number.isFinite(r.value) && r.status !== 'failed');
  const c = state.counts;
  const tally = (['finished', 'abandoned', 'failed', 'cancelled'] as const).filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`).join(', ');
  await store.addNote({ kind: 'run', id: parent.id }, leaderboardMarkdown(state), 'cairn sweep');
  if (top) {
    await store.endRun(parent.id, 'finished', `${trials.length} trials (${tally}); best ${spec.objective.metric} ${fmt(top.value)} in trial ${top.index} (run ${top.runId})`);
    await store.updateSweep(parent.id, { status: 'finished', best: { runId: top.runId, trial: top.index, value: top.value } });
  } else {
    await store.endRun(parent.id, 'failed', `${trials.length} trials (${tally}); none reported ${spec.objective.metric}`);
    await store.updateSweep(parent.id, { status: 'failed' });
  }
}

// ---------------------------------------------------------------------------------------
// the leaderboard as markdown

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(4)));
}

function cell(v: unknown): string {
  const s = typeof v === 'number' ? fmt(v) : String(v ?? '');
  return s.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** Marks a sweep's leaderboard note, so `cairn sweep show` can find the newest. */
export const LEADERBOARD_MARKER = '<!-- cairn-sweep-leaderboard -->';

/** The leaderboard as a markdown table (best first, at most `maxRows` rows). */
export function leaderboardMarkdown(state: Pick<SweepState, 'spec' | 'leaderboard' | 'counts' | 'trials'>, maxRows = NOTE_ROWS): string {
  const { spec } = state;
  const names = Object.keys(spec.space);
  const c = state.counts;
  const tally = (['finished', 'abandoned', 'failed', 'cancelled', 'running', 'queued'] as const).filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`).join(', ');
  const lines = [
    LEADERBOARD_MARKER,
    `## Sweep leaderboard`,
    '',
    `Objective: ${spec.objective.metric} (${spec.objective.direction}) · strategy ${spec.strategy.kind} · ${state.trials.length} of ${spec.maxTrials} trials (${tally || 'none yet'}) · parallel ${spec.parallel} · seed ${spec.seed}`,
    '',
    `| rank | trial | run | status | ${cell(spec.objective.metric)} | ${names.map(cell).join(' | ')} | reason |`,
    `|---:|---:|---|---|---:|${names.map(() => '---:|').join('')}---|`,
  ];
  for (const r of state.leaderboard.slice(0, maxRows)) {
    lines.push(`| ${r.rank} | ${r.index} | ${r.runId} | ${r.runStatus} | ${Number.isFinite(r.value) ? fmt(r.value) : '–'} | ${names.map((n) => cell(r.params[n])).join(' | ')} | ${cell(r.reason ?? '')} |`);
  }
  if (state.leaderboard.length > maxRows) lines.push('', `… ${state.leaderboard.length - maxRows} more trials (cairn sweep show lists them all).`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// what workers call

/**
 * The worker's hook after a job: when `runId` is a sweep trial that has ended, advance its
 * sweep. Null when there was nothing to do.
 */
export async function advanceSweepOf(runId: string, deps: SweepDeps): Promise<SweepProgress | null> {
  let trial;
  try {
    trial = await deps.store.getSweepTrial(runId);
    if (!trial || !ended((await deps.store.getRunHead(runId)).status)) return null;
  } catch (e) {
    if (e instanceof CairnError && (e.code === 'NOT_FOUND' || e.code === 'INVALID_INPUT')) return null; // a job naming no run: nothing to advance
    throw e;
  }
  return advanceSweep(trial.sweepId, deps);
}

/**
 * Advances (with repair) every running sweep whose trials go on this queue prefix: what a
 * worker or scheduler does when it starts, and now and then, so a sweep carries on after
 * a restart whatever was lost in between. Returns each sweep's progress; errors are
 * returned per sweep rather than thrown.
 */
export async function advanceRunningSweeps(deps: SweepDeps): Promise<{ parentId: string; progress?: SweepProgress; error?: Error }[]> {
  const out: { parentId: string; progress?: SweepProgress; error?: Error }[] = [];
  for (const s of await deps.store.listSweeps({ status: 'running', prefix: deps.queues.prefix })) {
    try {
      out.push({ parentId: s.parentRunId, progress: await advanceSweep(s.parentRunId, deps, { repair: true }) });
    } catch (e) {
      out.push({ parentId: s.parentRunId, error: e as Error });
    }
  }
  return out;
}

export interface TrialSettings {
  /** The sweep's objective (the trial trains against it: policies read it). */
  objective: Objective;
  /** The sweep's engine policies, on top of the tier's. */
  policies: PolicySpec[];
  /** Truncation selection, built here. */
  extraPolicies: Policy[];
  /** The objective curves of the sweep's ended trials (finished or abandoned). */
  peers: PeerCurve[];
  /** The parent is no longer running: the trial should not train. */
  sweepEnded: { status: RunStatus; reason: string | null } | null;
}

/**
 * What a worker needs to train trial `runId` of sweep `sweepId` (store.getSweepTrial says
 * which): the sweep's objective, policies and the trial's peers.
 */
export async function sweepTrialSettings(store: Store, runId: string, sweepId: string, options: { peers?: boolean } = {}): Promise<TrialSettings> {
  const parent = await store.getRun(sweepId);
  const { record, spec } = await sweepRecord(store, parent.id);
  const live = parent.status === 'running' && record.status === 'running';
  const settings: TrialSettings = {
    objective: spec.objective,
    policies: spec.policies.filter((p): p is PolicySpec => p.kind !== 'truncation'),
    extraPolicies: spec.policies.filter((p): p is TruncationSpec => p.kind === 'truncation').map((p) => truncationPolicy(p, spec.objective.metric)),
    peers: [],
    sweepEnded: live ? null : { status: parent.status !== 'running' ? parent.status : record.status, reason: parent.statusReason },
  };
  if (settings.sweepEnded || options.peers === false) return settings;
  const siblings = (await listTrialRuns(store, parent.id)).map((t) => t.run).filter((r) => r.id !== runId && (r.status === 'finished' || r.status === 'abandoned') && r.metrics[spec.objective.metric]);
  siblings.sort((a, b) => (b.endedAt?.getTime() ?? 0) - (a.endedAt?.getTime() ?? 0));
  for (const r of siblings.slice(0, MAX_SWEEP_PEERS)) {
    const series = await store.getMetricSeries(r.id, spec.objective.metric, { maxPoints: 2000 });
    settings.peers.push({ runId: r.id, points: series.points.map((p) => ({ step: p.step, value: p.value })) });
  }
  return settings;
}

/**
 * Truncation selection as an engine policy: once this trial has `minEvaluations`
 * (default 3) evaluations, at each evaluation's step it is ranked by its best-so-far
 * objective among the peers that reached that step (their best at or before it), and
 * abandoned when it is in the worst `percent` (see truncationVerdict).
 */
export function truncationPolicy(spec: TruncationSpec, metric?: string): Policy {
  const minEvaluations = spec.minEvaluations ?? 3;
  return {
    spec,
    check(ctx: PolicyContext): Verdict | null {
      const { history, direction } = ctx;
      if (history.length < minEvaluations) return null;
      const step = history.at(-1)!.step;
      let own = Number.NaN;
      for (const e of history) if (Number.isFinite(e.value) && (!Number.isFinite(own) || (direction === 'minimize' ? e.value < own : e.value > own))) own = e.value;
      const others: number[] = [];
      for (const peer of ctx.peers) {
        let reached = false;
        let best = Number.NaN;
        for (const p of peer.points) {
          if (p.step >= step) reached = true;
          if (p.step > step || !Number.isFinite(p.value)) continue;
          if (!Number.isFinite(best) || (direction === 'minimize' ? p.value < best : p.value > best)) best = p.value;
        }
        if (reached && Number.isFinite(best)) others.push(best);
      }
      const v = truncationVerdict({ direction, percent: spec.percent, own: { step, value: own }, others, ...(metric ? { metric } : {}) });
      return v ? { policy: v.policy, reason: v.reason, details: v.details } : null;
    },
  };
}

// ---------------------------------------------------------------------------------------
// cancelling

export interface CancelledSweep {
  parentId: string;
  /** 'cancelled' now, or how it had already ended. */
  parent: 'cancelled' | RunStatus;
  /** Queued trials whose jobs were removed (ended cancelled). */
  removed: string[];
  /** Running trials asked to stop (they checkpoint and end cancelled). */
  signalled: string[];
}

/**
 * Cancels a sweep: the parent ends `cancelled` first (so no advance creates another
 * trial), then queued trials are taken off their queue and end cancelled, and running ones
 * are signalled to stop. Holds the sweep's lock, like an advance.
 */
export async function cancelSweep(parentId: string, deps: SweepDeps, reason = 'sweep cancelled'): Promise<CancelledSweep> {
  return withSweepLock(deps.queues, parentId.toLowerCase(), deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, async () => {
    const { store, queues } = deps;
    const parent = await store.getRun(parentId);
    const { record } = await sweepRecord(store, parent.id);
    let status: CancelledSweep['parent'] = parent.status;
    if (parent.status === 'running' || parent.status === 'queued') {
      await store.endRun(parent.id, 'cancelled', reason);
      status = 'cancelled';
    }
    if (record.status === 'running') await store.updateSweep(parent.id, { status: sweepStatusOf(status === 'cancelled' ? 'cancelled' : parent.status) });
    const removed: string[] = [];
    const signalled: string[] = [];
    const live = (await listTrialRuns(store, parent.id)).map((t) => t.run).filter((t) => !ended(t.status));
    await eachLimit(live, CREATE_CONCURRENCY, async (t) => {
      try {
        const r = await cancelRun(t.id, { store, queues, connection: queues.connection, prefix: queues.prefix });
        if (r === 'removed') removed.push(t.id);
        else if (r === 'signalled') signalled.push(t.id);
      } catch (e) {
        // A trial a worker took between the listing and the removal: it sees the sweep cancelled and stops itself.
        if (!(e instanceof InvalidStateError)) await queues.connection.publish(cancelChannel(queues.prefix), t.id).catch(() => undefined);
        signalled.push(t.id);
      }
    });
    return { parentId: parent.id, parent: status, removed, signalled };
  });
}
