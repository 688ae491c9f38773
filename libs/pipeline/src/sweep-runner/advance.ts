import { CairnError, ValidationError } from '@cairn/schema';
import { TIERS, type Tier } from '@cairn/engine';
import type { RunDetail, RunStatus, Store, SweepRecord } from '@cairn/store';
import { bullJobOptions, storedParams } from '../queued-run.ts';
import { createStrategy, type Params, type TrialResult } from '../sweep/index.ts';
import { eachLimit } from './each-limit.ts';
import { fmt, leaderboardMarkdown } from './leaderboard-markdown.ts';
import { DEFAULT_LOCK_WAIT_MS, withSweepLock, type SweepDeps } from './lock.ts';
import { parseSweepSpec } from './policies.ts';
import { sweepRecord, type SweepSpec } from './spec.ts';
import { bestOf, ended, leaderboardOf, listTrialRuns, stateOf, sweepStatusOf, toTrial, type SweepTrial } from './state.ts';

/** Trial runs created at once by an advance. */
const CREATE_CONCURRENCY = 8;

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
  const { record, spec } = await sweepRecord(store, parent.id, parseSweepSpec);
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

function pickTags(tags: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => tags[k] !== undefined).map((k) => [k, tags[k]!]));
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
