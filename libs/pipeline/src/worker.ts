import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CairnError, type RunEnvironment } from '@cairn/schema';
import { TIERS, loadDefinition, runTraining, type BackendName, type Tier, type TrainResult } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { RunDetail, Store } from '@cairn/store';
import { captureContext, startRun } from '@cairn/tracking';
import { cachedCode, materialiseCode } from './bundle.ts';
import { RunHeadLoader } from './run-heads.ts';
import { materialiseSnapshot } from './materialise.ts';
import { DEFAULT_QUEUE_PREFIX, queueName, type JobData, type TierQueues } from './queues.ts';
import { definitionForTier, type PipelineConfig, type TierConfig } from './config.ts';
import { applyGate, type GateResult } from './gates.ts';
import { challengeChampion, type ChampionResult } from './champion.ts';
import { lastCheckpoint, trackingReporter } from './reporter.ts';
import { advanceRunningSweeps, advanceSweepOf, cancelSweep, sweepTrialSettings, type TrialSettings } from './sweep-runner.ts';

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
  /** Who is running the job (host:pid…), recorded with each attempt. */
  workerId?: string;
  /** Batches the first read of each job's run (startWorkers makes one per pool). */
  heads?: RunHeadLoader;
}

export interface ProcessResult {
  runId: string;
  /** The run's parent (a sweep trial's sweep), so the caller knows whom to tell. */
  parentRunId?: string;
  status: TrainResult['status'] | 'skipped';
  reason?: string;
  gate?: GateResult;
  promoted?: string;
  champion?: ChampionResult;
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
  const unreadable = (e: unknown) => {
    // The store being down is not the job's fault: a plain error, so BullMQ retries it.
    if (e instanceof CairnError && e.code === 'STORE_UNREACHABLE') return e;
    return new UnrecoverableError(`job names run ${runId}, which ${e instanceof CairnError && e.code === 'NOT_FOUND' ? 'does not exist' : `cannot be read (${(e as Error).message})`}`);
  };
  // The run's row first (one query): a job whose run already ended costs no more than that.
  const head = await (deps.heads ? deps.heads.load(runId) : store.getRunHead(runId)).catch((e: unknown) => Promise.reject(unreadable(e)));
  if (head.status !== 'queued' && head.status !== 'running') return { runId, status: 'skipped', reason: `run already ${head.status}`, ...(head.parentRunId ? { parentRunId: head.parentRunId } : {}) };
  let run: RunDetail;
  try {
    run = await store.getRun(runId);
  } catch (e) {
    throw unreadable(e);
  }
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
    definitionFile = cachedCode(run.codeHash, deps.root) ?? materialiseCode(run.codeHash, await blobs.get(run.codeHash), deps.root);
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
  const trial = await store.getSweepTrial(runId);
  if (trial) {
    try {
      sweep = await sweepTrialSettings(store, runId, trial.sweepId, { peers: false });
    } catch (e) {
      return failHard(`the trial's sweep ${trial.sweepId} cannot be read: ${(e as Error).message}`);
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
  // The worker's environment (machine, Node, its lock file), captured once per process. Its
  // git state is not asked: the run's code reference is what was submitted, and stays.
  const tracked = await startRun({ store, runId, captureEnvironment: false, environment: await workerEnvironment(deps.root ?? process.cwd()), processHooks: false });
  // A run already `running` was started by an earlier pickup (a retry, a hand-back, a stalled job).
  const resume = ctx.attempt > 1 || run.status === 'running' ? await lastCheckpoint(store, runId) : null;
  // Every pickup is an attempt on the run's record: a retry, a hand-back, a stalled job taken
  // again after its worker died (BullMQ does not count that one in attemptsMade).
  const attempt = Number(run.tags.attempts ?? 0) + 1;
  const attemptKey = `attempt.${attempt}`;
  const attemptText = `${new Date().toISOString()} on ${deps.workerId ?? 'a worker'}${resume ? `, resumed from checkpoint at step ${resume.step}` : ''}`;
  await store.setTags(runId, { attempts: String(attempt), [attemptKey]: attemptText });
  const codeHash = run.codeHash;
  const outcome = await oneAtATime(async () => {
    // The sweep's ended trials as of now (more may have ended while this job waited its turn).
    if (sweep && trial) sweep = await sweepTrialSettings(store, runId, trial.sweepId).catch(() => sweep);
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
      await store.setTags(runId, { [attemptKey]: `${attemptText} → failed, retried: ${(r.reason ?? '').slice(0, 300)}` }).catch(() => undefined);
      throw new Error(`attempt ${ctx.attempt} of ${ctx.maxAttempts} failed: ${r.reason}`);
    }
    await tracked.end('failed', r.reason ?? null);
    throw new UnrecoverableError(r.reason ?? 'training failed');
  }
  await tracked.end(r.status, r.reason ?? null);
  const result: ProcessResult = { runId, status: r.status, ...(r.reason ? { reason: r.reason } : {}), ...(run.parentRunId ? { parentRunId: run.parentRunId } : {}) };
  if (r.status !== 'finished') return result;
  if (!runtime.gate) {
    // No gate: nothing to promote, but a champion comparison may still be configured.
    if (runtime.champion && !sweep) result.champion = await challengeChampion({ store, blobs, runId, tier, config: runtime.champion, objective: definition.objective });
    return result;
  }

  result.gate = await applyGate(store, runId, runtime.gate, tier);
  // Sweep trials are not promoted one by one: the sweep's leaderboard says which is best.
  if (result.gate.passed && runtime.promotesTo && !sweep) result.promoted = await promote(run, runtime.promotesTo, deps);
  if (result.gate.passed && runtime.champion && !sweep) result.champion = await challengeChampion({ store, blobs, runId, tier, config: runtime.champion, objective: definition.objective });
  return result;
}

const environments = new Map<string, Promise<RunEnvironment>>();
function workerEnvironment(root: string): Promise<RunEnvironment> {
  let env = environments.get(root);
  if (!env) environments.set(root, (env = captureContext({ cwd: root }).then((c) => c.environment)));
  return env;
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
    tags: { ...pick(run.tags, ['definition', 'module']), promoted_from: run.id, queue: deps.queues.prefix },
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
    /** How long a job's lock lasts without renewal, so how soon a dead worker's job is taken again (default 60 s). */
    lockDurationMs?: number;
    /** How often to look for jobs whose lock expired (default a quarter of the lock). */
    stalledIntervalMs?: number;
    /** A sweep could not be advanced (the trial's job is not failed for it). */
    onSweepError?: (parentId: string, e: Error) => void;
    /** Queued runs whose jobs Redis had lost were queued again (see requeueLostJobs). */
    onRequeued?: (runIds: string[]) => void;
  },
): Promise<WorkerPool> {
  const prefix = deps.prefix ?? DEFAULT_QUEUE_PREFIX;
  const sweepDeps = { store: deps.store, queues: deps.queues };
  const runDeps: WorkerDeps = { ...deps, heads: deps.heads ?? new RunHeadLoader(deps.store) };
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
        let result: ProcessResult | undefined;
        let handedBack = false;
        try {
          result = await processRun(runId, runDeps, {
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
          // A sweep trial that ended here makes room for the next: advance its sweep (never failing
          // this job for it). Runs with no parent are no trial; a job that threw is looked up.
          if (!handedBack && (!result || result.parentRunId)) await advanceSweepOf(runId, sweepDeps).catch((e: Error) => deps.onSweepError?.(runId, e));
        }
        deps.onResult?.(result!);
        return result!;
      },
      {
        connection: track(deps.connection.duplicate({ maxRetriesPerRequest: null })),
        concurrency: deps.concurrency ?? runtime.concurrency,
        // A job's lock is renewed every lockDuration/2; a worker that dies (SIGKILL, lost
        // machine) stops renewing, and the stalled-job check hands its jobs to another worker.
        lockDuration: deps.lockDurationMs ?? 60_000,
        stalledInterval: deps.stalledIntervalMs ?? Math.max(1_000, Math.round((deps.lockDurationMs ?? 60_000) / 4)),
        maxStalledCount: 3,
      },
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
  // Housekeeping, now and now and then: sweeps carry on after a restart (this prefix's are
  // advanced), and queued runs whose jobs Redis lost are queued again.
  const sweepIntervalMs = deps.sweepIntervalMs ?? 30_000;
  const tierList = deps.tierList ?? [...TIERS];
  let sweeping: Promise<void> | null = null;
  const sweepAll = () => {
    sweeping ??= requeueLostJobs({ store: deps.store, queues: deps.queues, config: deps.config, tiers: tierList })
      .then((ids) => ids.length && deps.onRequeued?.(ids))
      .catch(() => undefined) // Redis or the store away: the next round tries again
      .then(() => advanceRunningSweeps(sweepDeps))
      .then((results) => {
        for (const r of results) if (r.error) deps.onSweepError?.(r.parentId, r.error);
      })
      .catch((e: Error) => deps.onSweepError?.('*', e))
      .finally(() => {
        sweeping = null;
      });
  };
  sweepAll();
  // Back from a Redis outage: look for lost jobs at once rather than at the next round.
  let redisLost = false;
  const onClose = () => void (redisLost = true);
  const onReady = () => {
    if (!redisLost) return;
    redisLost = false;
    sweepAll();
  };
  deps.connection.on('close', onClose);
  deps.connection.on('ready', onReady);
  const sweepTimer = sweepIntervalMs > 0 ? setInterval(sweepAll, sweepIntervalMs) : null;
  sweepTimer?.unref();
  return {
    workers,
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      deps.connection.off('close', onClose);
      deps.connection.off('ready', onReady);
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
 * The store is the record of what should be queued: a run `queued` for this prefix whose
 * job is not in its tier's queue (Redis restarted without persistence, or failed over and
 * lost its last writes) is queued again with its tier's retry policy. The job id is the
 * run id, so a run being submitted at this very moment is never queued twice.
 */
export async function requeueLostJobs(deps: { store: Store; queues: TierQueues; config: PipelineConfig; tiers?: readonly Tier[] }): Promise<string[]> {
  const tiers = deps.tiers ?? TIERS;
  const requeued: string[] = [];
  const filter = `status = 'queued' AND tags.queue = '${deps.queues.prefix.replace(/'/g, "''")}'`;
  let cursor: string | null = null;
  do {
    const page = await deps.store.searchRuns({ filter, limit: 500, cursor, includeArchived: true });
    for (const run of page.runs) {
      const tier = run.tier as Tier;
      if (!tiers.includes(tier)) continue;
      if (await deps.queues.get(tier).getJob(run.id)) continue;
      await deps.queues.enqueue(tier, run.id, jobOptions(deps.config.tiers[tier]));
      requeued.push(run.id);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return requeued;
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
  if (await deps.store.getSweep(run.id)) {
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
