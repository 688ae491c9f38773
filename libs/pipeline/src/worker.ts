import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CairnError } from '@cairn/schema';
import { TIERS, loadDefinition, runTraining, type BackendName, type Tier, type TrainResult } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { RunDetail, Store } from '@cairn/store';
import { startRun } from '@cairn/tracking';
import { materialiseCode } from './bundle.ts';
import { materialiseSnapshot } from './materialise.ts';
import { DEFAULT_QUEUE_PREFIX, queueName, type JobData, type TierQueues } from './queues.ts';
import { definitionForTier, type PipelineConfig, type TierConfig } from './config.ts';
import { applyGate, type GateResult } from './gates.ts';
import { lastCheckpoint, trackingReporter } from './reporter.ts';
import { advanceRunningSweeps, advanceSweepOf, cancelSweep, isSweepParent, isSweepTrial, sweepTrialSettings, type TrialSettings } from './sweep-runner.ts';

export interface WorkerDeps {
  store: Store;
  blobs: LocalBlobStore;
  /** CAIRN_HOME: snapshot checkouts live under it. */
  home: string;
  queues: TierQueues;
  /** Tier settings, gates, promotion and retries (cairn.config.ts over the defaults). */
  config: PipelineConfig;
  backend?: BackendName;
  /** Project root the code cache lives under (default cwd). */
  root?: string;
}

export interface ProcessResult {
  runId: string;
  status: TrainResult['status'] | 'skipped';
  reason?: string;
  gate?: GateResult;
  promoted?: string;
}

/** The job was handed back (worker shutting down): BullMQ retries it and the run resumes from its checkpoint. */
export class HandedBackError extends Error {
  constructor(runId: string) {
    super(`run ${runId} handed back by a worker shutting down; it resumes from its last checkpoint`);
  }
}

/** Stored params are text; numbers and booleans come back typed, as `--param` parses them. */
export function paramsFromStore(stored: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(stored)) out[k] = raw === 'true' ? true : raw === 'false' ? false : raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return out;
}

/**
 * Runs one queued run end to end: code and data from the blob store, the engine with a
 * tracker, then the tier's gate and promotion. Bad jobs (unknown run, missing code or
 * snapshot, bad params) throw UnrecoverableError so BullMQ does not retry them; a
 * training module that throws is retried per the tier's policy, resuming from the last
 * checkpoint, and the run ends `failed` only on the last attempt.
 */
export async function processRun(runId: string, deps: WorkerDeps, ctx: { attempt: number; maxAttempts: number; signal?: AbortSignal; shuttingDown?: () => boolean }): Promise<ProcessResult> {
  const { store, blobs } = deps;
  let run: RunDetail;
  try {
    run = await store.getRun(runId);
  } catch (e) {
    throw new UnrecoverableError(`job names run ${runId}, which ${e instanceof CairnError && e.code === 'NOT_FOUND' ? 'does not exist' : `cannot be read (${(e as Error).message})`}`);
  }
  if (run.status !== 'queued' && run.status !== 'running') return { runId, status: 'skipped', reason: `run already ${run.status}` };
  const tier = (TIERS as readonly string[]).includes(run.tier ?? '') ? (run.tier as Tier) : 'ci';
  const runtime = deps.config.tiers[tier];

  const failHard = async (reason: string): Promise<never> => {
    await store.endRun(runId, 'failed', reason).catch(() => undefined);
    throw new UnrecoverableError(reason);
  };

  // Code and data, verified by their content ids.
  if (!run.codeHash || !/^[0-9a-f]{64}$/.test(run.codeHash)) return failHard('the run has no code bundle to run (submit it with cairn submit)');
  let definitionFile: string;
  try {
    definitionFile = materialiseCode(run.codeHash, await blobs.get(run.codeHash), deps.root);
  } catch (e) {
    return failHard(`code bundle ${run.codeHash.slice(0, 12)} is not usable: ${(e as Error).message}`);
  }
  const snapshotId = run.snapshotIds[0];
  if (!snapshotId) return failHard('the run names no data snapshot');
  let dataDir: string;
  try {
    dataDir = await oneAtATime(() => materialiseSnapshot(snapshotId, blobs, deps.home));
  } catch (e) {
    return failHard(`snapshot ${snapshotId.slice(0, 12)} cannot be checked out: ${(e as Error).message}`);
  }
  let loaded;
  try {
    loaded = await loadDefinition(definitionFile);
  } catch (e) {
    return failHard((e as Error).message);
  }
  // A sweep trial trains against the sweep's objective with its policies, its ended siblings as peers.
  let sweep: TrialSettings | null = null;
  if (isSweepTrial(run)) {
    try {
      sweep = await sweepTrialSettings(store, run, { peers: false });
    } catch (e) {
      return failHard(`the trial's sweep ${run.tags.sweep} cannot be read: ${(e as Error).message}`);
    }
    if (sweep.sweepEnded) {
      const reason = `its sweep ended ${sweep.sweepEnded.status} before the trial started`;
      await store.endRun(runId, 'cancelled', reason).catch(() => undefined);
      return { runId, status: 'cancelled', reason };
    }
  }
  const definition = definitionForTier(loaded.definition, deps.config, tier);

  // No process hooks: a worker process must not end its runs on a signal (`cancelled`) or
  // when its event loop empties (`finished`): shutdown hands them back to the queue instead.
  const tracked = await startRun({ store, runId, captureEnvironment: true, cwd: deps.root ?? process.cwd(), processHooks: false });
  // A run already `running` was started by an earlier pickup (a retry, a hand-back, a stalled job).
  const resume = ctx.attempt > 1 || run.status === 'running' ? await lastCheckpoint(store, runId) : null;
  const codeHash = run.codeHash;
  const outcome = await oneAtATime(async () => {
    // The sweep's ended trials as of now (more may have ended while this job waited its turn).
    if (sweep) sweep = await sweepTrialSettings(store, run).catch(() => sweep);
    return runTraining({
      // The operator's tier settings under the definition's own (config.ts says how they combine).
      definition: sweep ? { ...definition, objective: { ...definition.objective, ...sweep.objective } } : definition,
      params: paramsFromStore(run.params),
      dataDir,
      snapshotId,
      tier,
      evaluateTest: runtime.evaluateTest,
      ...(deps.backend ? { backend: deps.backend } : {}),
      reporter: trackingReporter(tracked, store),
      store: blobs,
      checkpointEveryEpochs: 1,
      ...(resume ? { resumeFrom: resume } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(sweep ? { policies: sweep.policies, extraPolicies: sweep.extraPolicies, peers: sweep.peers } : {}),
      code: { path: run.tags.module ?? definitionFile, hash: codeHash },
    });
  });
  const r = outcome.result;

  if (r.status === 'cancelled' && ctx.shuttingDown?.()) {
    // Leave the run running: the retried job takes it up from the checkpoint just written.
    await tracked.flush().catch(() => undefined);
    throw new HandedBackError(runId);
  }
  if (r.status === 'failed') {
    const bad = /^invalid params for /.test(r.reason ?? '');
    if (!bad && ctx.attempt < ctx.maxAttempts) {
      await tracked.flush().catch(() => undefined);
      throw new Error(`attempt ${ctx.attempt} of ${ctx.maxAttempts} failed: ${r.reason}`);
    }
    await tracked.end('failed', r.reason ?? null);
    throw new UnrecoverableError(r.reason ?? 'training failed');
  }
  await tracked.end(r.status, r.reason ?? null);
  const result: ProcessResult = { runId, status: r.status, ...(r.reason ? { reason: r.reason } : {}) };
  if (r.status !== 'finished' || !runtime.gate) return result;

  result.gate = await applyGate(store, runId, runtime.gate, tier);
  // Sweep trials are not promoted one by one: the sweep's leaderboard says which is best.
  if (result.gate.passed && runtime.promotesTo && !sweep) result.promoted = await promote(run, runtime.promotesTo, deps);
  return result;
}

/**
 * One training (and one snapshot checkout) at a time in this process: the engine seeds
 * Math.random for the run it trains and refuses a second at once, and checkouts of the
 * same snapshot share a temporary folder. Jobs beyond the first wait their turn here;
 * more trainings at once take more worker processes.
 */
let slot: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
  const turn = slot.then(fn, fn);
  slot = turn.catch(() => undefined);
  return turn;
}

/** The next tier's run: same code, data and params; the lineage records the chain. */
async function promote(run: RunDetail, next: Tier, deps: WorkerDeps): Promise<string> {
  const nextRuntime = deps.config.tiers[next];
  const promoted = await deps.store.createRun({
    experimentId: run.experimentId,
    status: 'queued',
    tier: next,
    code: { gitSha: run.gitSha, gitDirty: run.gitDirty, codeHash: run.codeHash },
    snapshotIds: run.snapshotIds,
    params: run.params,
    tags: { ...pick(run.tags, ['definition', 'module', 'sweep']), promoted_from: run.id },
  });
  await deps.store.addLineageEdge({ kind: 'run', id: run.id }, { kind: 'run', id: promoted.id }, 'promoted_to');
  await deps.queues.enqueue(next, promoted.id, jobOptions(nextRuntime));
  return promoted.id;
}

/** BullMQ options from a tier's retry policy and priority. */
export function jobOptions(t: TierConfig): { attempts: number; backoff: { type: 'fixed' | 'exponential'; delay: number }; priority: number } {
  return { attempts: t.retry.attempts, backoff: { type: t.retry.strategy, delay: t.retry.backoffMs }, priority: t.priority };
}

function pick(tags: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => tags[k] !== undefined).map((k) => [k, tags[k]!]));
}

export interface WorkerPool {
  workers: Worker<JobData>[];
  /** Graceful: running jobs checkpoint and are handed back, then the workers close. */
  close(): Promise<void>;
}

/** Channel on which `cancelRun` tells every worker to stop a run it is training. */
export function cancelChannel(prefix = DEFAULT_QUEUE_PREFIX): string {
  return `${prefix}:cancel`;
}

/**
 * One BullMQ Worker per tier in this process. Cancellation requests arrive on a Redis
 * channel and abort the run's job through its AbortSignal.
 */
export async function startWorkers(
  deps: WorkerDeps & {
    connection: Redis;
    tierList?: Tier[];
    concurrency?: number;
    prefix?: string;
    onResult?: (r: ProcessResult) => void;
    onError?: (runId: string, e: Error) => void;
    /**
     * Sweeps: every sweep of this prefix is advanced when the pool starts and then every
     * this many ms (default 30 s; 0: only when one of its trials ends here).
     */
    sweepIntervalMs?: number;
    /** A sweep could not be advanced (the trial's job is not failed for it). */
    onSweepError?: (parentId: string, e: Error) => void;
  },
): Promise<WorkerPool> {
  const prefix = deps.prefix ?? DEFAULT_QUEUE_PREFIX;
  const sweepDeps = { store: deps.store, queues: deps.queues };
  let shuttingDown = false;
  const workers: Worker<JobData>[] = [];
  // BullMQ never closes a connection it was handed (it treats it as shared): close() does.
  const connections: Redis[] = [];
  for (const tier of deps.tierList ?? [...TIERS]) {
    const runtime = deps.config.tiers[tier];
    const worker = new Worker<JobData>(
      queueName(tier, prefix),
      async (job: Job<JobData>, token?: string, signal?: AbortSignal) => {
        const data = job.data as Partial<JobData> | undefined;
        if (!data || typeof data.runId !== 'string') throw new UnrecoverableError('malformed job: it carries no run id');
        const runId = data.runId;
        let result: ProcessResult;
        let handedBack = false;
        try {
          result = await processRun(runId, deps, {
            attempt: job.attemptsMade + 1,
            maxAttempts: job.opts.attempts ?? 1,
            ...(signal ? { signal } : {}),
            shuttingDown: () => shuttingDown,
          });
        } catch (e) {
          // Handed back: straight to waiting for the next worker, without spending an attempt
          // (thrown as a failure it would use one, and on the last it would fail the job for good
          // while the run stays `running`).
          if (e instanceof HandedBackError && token) {
            handedBack = true;
            await job.moveToWait(token);
            throw new WaitingError();
          }
          throw e;
        } finally {
          // A sweep trial that ended here makes room for the next: advance its sweep (never failing this job for it).
          if (!handedBack) await advanceSweepOf(runId, sweepDeps).catch((e: Error) => deps.onSweepError?.(runId, e));
        }
        deps.onResult?.(result);
        return result;
      },
      { connection: track(deps.connection.duplicate({ maxRetriesPerRequest: null })), concurrency: deps.concurrency ?? runtime.concurrency, lockDuration: 60_000, stalledInterval: 15_000, maxStalledCount: 3 },
    );
    worker.on('failed', (job, e) => job && deps.onError?.(job.data.runId, e));
    worker.on('error', () => undefined);
    workers.push(worker);
  }
  function track(c: Redis): Redis {
    c.on('error', () => undefined);
    connections.push(c);
    return c;
  }
  const sub = deps.connection.duplicate();
  sub.on('error', () => undefined);
  await sub.subscribe(cancelChannel(prefix));
  sub.on('message', (_channel, runId: string) => {
    for (const w of workers) w.cancelJob(runId, 'cancelled by request');
  });
  // Sweeps carry on after a restart: advance this prefix's sweeps now and now and then.
  const sweepIntervalMs = deps.sweepIntervalMs ?? 30_000;
  let sweeping: Promise<void> | null = null;
  const sweepAll = () => {
    sweeping ??= advanceRunningSweeps(sweepDeps)
      .then((results) => {
        for (const r of results) if (r.error) deps.onSweepError?.(r.parentId, r.error);
      })
      .catch((e: Error) => deps.onSweepError?.('*', e))
      .finally(() => {
        sweeping = null;
      });
  };
  sweepAll();
  const sweepTimer = sweepIntervalMs > 0 ? setInterval(sweepAll, sweepIntervalMs) : null;
  sweepTimer?.unref();
  return {
    workers,
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      await sweeping;
      shuttingDown = true;
      for (const w of workers) w.cancelAllJobs('worker shutting down');
      await Promise.all(workers.map((w) => w.close()));
      await sub.quit().catch(() => undefined);
      for (const c of connections) c.disconnect();
    },
  };
}

/**
 * Cancels a run: a waiting job is removed and the run ends `cancelled`; a running one is
 * stopped through its AbortSignal by whichever worker holds it (it checkpoints and ends
 * `cancelled`). A sweep's parent cancels the sweep (cancelSweep): it ends `cancelled`
 * at once ('removed'), its queued trials are removed and its running ones signalled.
 */
export async function cancelRun(runId: string, deps: { store: Store; queues: TierQueues; connection: Redis; prefix?: string }): Promise<'removed' | 'signalled' | 'already-ended'> {
  const run = await deps.store.getRun(runId);
  if (run.status !== 'queued' && run.status !== 'running') return 'already-ended';
  // A sweep: its parent ends cancelled and its trials are cancelled (queued removed, running signalled).
  if (isSweepParent(run)) {
    await cancelSweep(run.id, { store: deps.store, queues: deps.queues });
    return 'removed';
  }
  if (run.status === 'queued') {
    for (const q of deps.queues.all()) {
      const job = await q.getJob(runId);
      if (job && ['waiting', 'delayed', 'prioritized', 'waiting-children'].includes(await job.getState())) await job.remove();
    }
    await deps.store.endRun(runId, 'cancelled', 'cancelled before it started');
    return 'removed';
  }
  await deps.connection.publish(cancelChannel(deps.prefix), runId);
  return 'signalled';
}
