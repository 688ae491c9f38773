import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CairnError, FencedError, type AttemptOutcome, type RunEnvironment } from '@cairn/schema';
import { TIERS, type BackendName, type ConfiguredTraining, type Tier, type TrainResult } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { RunDetail, Store } from '@cairn/store';
import { captureContext, startRun } from '@cairn/tracking';
import { cachedCode, materialiseCode } from './bundle.ts';
import { RunHeadLoader } from './run-heads.ts';
import { materialiseSnapshot } from './materialise.ts';
import { DEFAULT_QUEUE_PREFIX, queueName, type JobData, type TierQueues } from './queues.ts';
import { type PipelineConfig, type TierConfig } from './config/index.ts';
import { applyGate, type GateResult } from './gates.ts';
import { challengeChampion, type ChampionResult } from './champion.ts';
import { lastCheckpoint, trackingReporter } from './reporter.ts';
import { advanceRunningSweeps, advanceSweepOf } from './sweep-runner/advance.ts';
import { sweepTrialSettings, type TrialSettings } from './sweep-runner/trial-settings.ts';
import { cancelChannel } from './cancel.ts';
import { LOCK_CHECK_STEPS, LockGuard, checkLockMs, type LockTooShortError } from './lock-guard.ts';
import { runTrainingJob, type TrainingJob, type TrainingJobResult } from './training-job.ts';
import { TrainingThread } from './training-thread.ts';

export interface WorkerDeps {
  store: Store;
  blobs: LocalBlobStore;
  /** CAIRN_HOME: snapshot checkouts live under it. */
  home: string;
  queues: TierQueues;
  /** Tier settings, gates, promotion and retries (cairn.config.ts over the defaults). */
  config: PipelineConfig;
  backend?: BackendName;
  /** Force a trainer by name (default: `configured.trainer`, else the best registered one that supports the model). */
  trainer?: string;
  /** What the app read from its environment (CAIRN_TRAINER, CAIRN_BACKEND, CAIRN_THREADS), weaker than `backend` and `trainer`. */
  configured?: ConfiguredTraining;
  /** Trainer modules to register where training runs (e.g. ['@cairn/native']). */
  trainerModules?: string[];
  /** Project root the code cache lives under (default cwd). */
  root?: string;
  /** Who is running the job (host:pid…), recorded with each attempt. */
  workerId?: string;
  /** Batches the first read of each job's run (startWorkers makes one per pool). */
  heads?: RunHeadLoader;
  /**
   * Where training runs: 'thread' (default), a worker thread, so this process's event
   * loop stays free for lock renewal, heartbeats and store writes; 'main', this loop, for
   * a backend or trainer that cannot load in a worker thread (the lock must then outlast
   * a step: see lock-guard.ts).
   */
  trainIn?: 'thread' | 'main';
  /** The job lock (ms): each job's start measures this loop's stalls against it (see LockGuard). */
  lockMs?: number;
  /** The training thread (default: this process's own, see trainingThread). */
  thread?: TrainingThread;
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
  /** This pickup's attempt at the run (the fencing token of its writes). */
  attempt?: number;
  /** Set when a newer attempt took the run over: this one stopped and wrote nothing more. */
  takenOver?: FencedError;
}

/** The job was handed back (worker shutting down): BullMQ retries it and the run resumes from its checkpoint. */
export class HandedBackError extends Error {
  constructor(runId: string) {
    super(`run ${runId} handed back by a worker shutting down; it resumes from its last checkpoint`);
  }
}

/** BullMQ could not renew the job's lock: the job may be another worker's now; this one stopped training. */
export class LockLostError extends Error {
  constructor(readonly runId: string) {
    super(`run ${runId}: the job's lock could not be renewed (it expired); training stopped here, and the run resumes from its last checkpoint wherever the job goes next`);
  }
}

/** This worker's event loop stalled too long for its lock at a job's start: the job goes back, the worker must stop. */
export class LockRefusedError extends Error {
  constructor(readonly refusal: LockTooShortError) {
    super(refusal.message);
  }
}

/** Stored params are text; numbers and booleans come back typed, as `--param` parses them. */
export function paramsFromStore(stored: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(stored)) out[k] = raw === 'true' ? true : raw === 'false' ? false : raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return out;
}

type Halt = { kind: 'fenced'; error: FencedError } | { kind: 'lost' } | { kind: 'lock'; error: LockTooShortError };
const HALT_RANK: Record<Halt['kind'], number> = { lost: 0, lock: 1, fenced: 2 };

/**
 * Runs one queued run end to end: code and data from the blob store, the engine with a
 * tracker, then the tier's gate and promotion. Bad jobs (unknown run, missing code or
 * snapshot, bad params) throw UnrecoverableError so BullMQ does not retry them; a
 * training module that throws is retried per the tier's policy, resuming from the last
 * checkpoint, and the run ends `failed` only on the last attempt.
 *
 * Every pickup claims the run for a new attempt first (Store.claimRun), and every write
 * after that goes through a store fenced with the attempt's number. When another worker
 * takes the run over (this one's lock expired: a stall, a pause), the store refuses this
 * one's writes; it stops training and returns `takenOver`, without ending, failing or
 * promoting the run.
 */
export async function processRun(
  runId: string,
  deps: WorkerDeps,
  ctx: { attempt: number; maxAttempts: number; signal?: AbortSignal; lockLost?: AbortSignal; shuttingDown?: () => boolean },
): Promise<ProcessResult> {
  const guard = deps.lockMs ? new LockGuard(deps.lockMs) : null;
  try {
    return await processClaimed(runId, deps, ctx, guard);
  } finally {
    guard?.stop();
  }
}

async function processClaimed(
  runId: string,
  deps: WorkerDeps,
  ctx: { attempt: number; maxAttempts: number; signal?: AbortSignal; lockLost?: AbortSignal; shuttingDown?: () => boolean },
  guard: LockGuard | null,
): Promise<ProcessResult> {
  const { store, blobs } = deps;
  const unreadable = (e: unknown) => {
    // The store being down is not the job's fault: a plain error, so BullMQ retries it.
    if (e instanceof CairnError && e.code === 'STORE_UNREACHABLE') return e;
    return new UnrecoverableError(`job names run ${runId}, which ${e instanceof CairnError && e.code === 'NOT_FOUND' ? 'does not exist' : `cannot be read (${(e as Error).message})`}`);
  };
  // The run's row first (one query): a job whose run already ended costs no more than that.
  const head = await (deps.heads ? deps.heads.load(runId) : store.getRunHead(runId)).catch((e: unknown) => Promise.reject(unreadable(e)));
  const parent = head.parentRunId ? { parentRunId: head.parentRunId } : {};
  if (head.status !== 'queued' && head.status !== 'running') return { runId, status: 'skipped', reason: `run already ${head.status}`, ...parent };
  let run: RunDetail;
  try {
    run = await store.getRun(runId);
  } catch (e) {
    throw unreadable(e);
  }

  // Taking the run: a new attempt, whose number fences every write below.
  let attempt: number;
  try {
    ({ attempt } = await store.claimRun(runId, { workerId: deps.workerId ?? null }));
  } catch (e) {
    if (e instanceof CairnError && e.code === 'INVALID_STATE') return { runId, status: 'skipped', reason: e.message, ...parent };
    throw unreadable(e);
  }
  const stop = new AbortController();
  let halted: Halt | null = null;
  const halt = (h: Halt) => {
    // The first reason stops the training; a later one may explain more: a stall too long for
    // the lock is why it was lost, and a refused write names who took the run.
    const current = halted as Halt | null;
    if (current && HALT_RANK[h.kind] <= HALT_RANK[current.kind]) return;
    halted = h;
    if (current) return;
    stop.abort(h.kind === 'lost' ? 'the job lost its lock' : h.error.message);
  };
  const fenced = store.fenced({ runId, attempt }, { onFenced: (error) => halt({ kind: 'fenced', error }) });
  // A lock lost to this process's own stalls is refused as such (else the worker would lose every job's lock).
  const onLost = () => {
    const refusal = guard?.check(runId, deps.trainIn ?? 'thread');
    halt(refusal ? { kind: 'lock', error: refusal } : { kind: 'lost' });
  };
  const onCancel = () => stop.abort(ctx.signal?.reason);
  if (ctx.lockLost?.aborted) onLost();
  else ctx.lockLost?.addEventListener('abort', onLost, { once: true });
  if (ctx.signal?.aborted) onCancel();
  else ctx.signal?.addEventListener('abort', onCancel, { once: true });
  try {
    return await train();
  } catch (e) {
    // Refused on the way (startRun, the end, a failHard): the run is the newer attempt's.
    const h = halted as Halt | null;
    if (h?.kind === 'fenced' || e instanceof FencedError) return { runId, status: 'skipped', reason: 'taken over by a newer attempt', attempt, takenOver: h?.kind === 'fenced' ? h.error : (e as FencedError), ...parent };
    throw e;
  } finally {
    ctx.lockLost?.removeEventListener('abort', onLost);
    ctx.signal?.removeEventListener('abort', onCancel);
  }

  // The claimed run, start to end; every write through `fenced`.
  async function train(): Promise<ProcessResult> {
    const tier = (TIERS as readonly string[]).includes(run.tier ?? '') ? (run.tier as Tier) : 'ci';
    const runtime = deps.config.tiers[tier];
    const done = (outcome: AttemptOutcome, detail?: string | null) =>
      fenced.updateAttempt(runId, attempt, { outcome, ...(detail ? { detail: detail.slice(0, 2000) } : {}) }).catch(() => undefined);

    const failHard = async (reason: string): Promise<never> => {
      await fenced.endRun(runId, 'failed', reason).catch(() => undefined);
      await done('failed', reason);
      if (halted?.kind === 'fenced') throw halted.error;
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
        await fenced.endRun(runId, 'cancelled', reason).catch(() => undefined);
        await done('cancelled', reason);
        if (halted?.kind === 'fenced') throw halted.error;
        return { runId, status: 'cancelled', reason, attempt, ...(run.parentRunId ? { parentRunId: run.parentRunId } : {}) };
      }
    }

    // No process hooks: a worker process must not end its runs on a signal (`cancelled`) or
    // when its event loop empties (`finished`): shutdown hands them back to the queue instead.
    // The worker's environment (machine, Node, its lock file), captured once per process. Its
    // git state is not asked: the run's code reference is what was submitted, and stays.
    // Through the fenced store: started under this attempt, not as a new one.
    const tracked = await startRun({ store: fenced, runId, captureEnvironment: false, environment: await workerEnvironment(deps.root ?? process.cwd()), processHooks: false });
    // Read after the claim: no older attempt can record a checkpoint any more.
    const resume = await lastCheckpoint(store, runId);
    if (resume) await fenced.updateAttempt(runId, attempt, { resumedFromStep: resume.step }).catch(() => undefined);
    const trainIn = deps.trainIn ?? 'thread';
    const job: TrainingJob = {
      definitionFile,
      config: deps.config,
      tier,
      params: paramsFromStore(run.params),
      dataDir,
      snapshotId,
      evaluateTest: runtime.evaluateTest,
      ...(deps.backend ? { backend: deps.backend } : {}),
      ...(deps.trainer ? { trainer: deps.trainer } : {}),
      ...(deps.configured ? { configured: deps.configured } : {}),
      ...(deps.trainerModules ? { trainerModules: deps.trainerModules } : {}),
      checkpointEveryEpochs: 1,
      ...(resume ? { resumeFrom: resume } : {}),
      code: { path: run.tags.module ?? definitionFile, hash: run.codeHash! },
      reportSteps: guard ? LOCK_CHECK_STEPS : 0,
    };
    const hooks = {
      reporter: trackingReporter(tracked, fenced),
      signal: stop.signal,
      onProgress: () => {
        const refusal = guard?.check(runId, trainIn);
        if (refusal) halt({ kind: 'lock', error: refusal });
      },
    };
    const trained = await oneAtATime(async (): Promise<TrainingJobResult> => {
      // The sweep's ended trials as of now (more may have ended while this job waited its turn).
      if (sweep && trial) {
        sweep = await sweepTrialSettings(store, runId, trial.sweepId).catch(() => sweep);
        Object.assign(job, { objective: sweep!.objective, policies: sweep!.policies, extraPolicies: sweep!.extraPolicies.map((p) => p.spec), peers: sweep!.peers });
      }
      if (trainIn === 'main') return runTrainingJob(job, { ...hooks, store: blobs });
      return (deps.thread ?? trainingThread()).train(job, blobs.root, hooks);
    }).catch((e: unknown) => ({ crashed: e instanceof Error ? e.message : String(e) }));

    if (halted) {
      // Stopped by the lock or the fence, not by the training: leave the run to whoever holds it now.
      await tracked.detach();
      if (halted.kind !== 'fenced') await done(halted.kind === 'lost' ? 'lost_lock' : 'handed_back', halted.kind === 'lock' ? halted.error.message : null);
      // (Recording that may itself be refused: then the run was taken over meanwhile.)
      const h = halted as Halt;
      if (h.kind === 'fenced') throw h.error;
      throw h.kind === 'lost' ? new LockLostError(runId) : new LockRefusedError(h.error);
    }
    if ('loadError' in trained) {
      await tracked.detach();
      return failHard(trained.loadError);
    }
    // A thread lost while stopping (terminated after the abort's grace) was still a stop.
    const r: TrainResult = 'crashed' in trained ? { status: stop.signal.aborted ? 'cancelled' : 'failed', reason: trained.crashed, metrics: {}, epochs: 0, steps: 0, elapsedMs: 0 } : trained.outcome.result;

    if (r.status === 'cancelled' && ctx.shuttingDown?.()) {
      // Leave the run running: the retried job takes it up from the checkpoint just written.
      await tracked.detach();
      await done('handed_back');
      throw new HandedBackError(runId);
    }
    if (r.status === 'failed') {
      const bad = /^invalid params for /.test(r.reason ?? '');
      if (!bad && ctx.attempt < ctx.maxAttempts) {
        await tracked.detach();
        await done('retried', r.reason ?? null);
        throw new Error(`attempt ${ctx.attempt} of ${ctx.maxAttempts} failed: ${r.reason}`);
      }
      await tracked.end('failed', r.reason ?? null);
      await done('failed', r.reason ?? null);
      throw new UnrecoverableError(r.reason ?? 'training failed');
    }
    await tracked.end(r.status, r.reason ?? null);
    await done(r.status, r.reason ?? null);
    const result: ProcessResult = { runId, status: r.status, attempt, ...(r.reason ? { reason: r.reason } : {}), ...(run.parentRunId ? { parentRunId: run.parentRunId } : {}) };
    if (r.status !== 'finished' || 'crashed' in trained) return result;
    const objective = trained.objective;
    // What follows writes for the run too (gate, promotion, champion): through the fenced store.
    if (!runtime.gate) {
      // No gate: nothing to promote, but a champion comparison may still be configured.
      if (runtime.champion && !sweep) result.champion = await challengeChampion({ store: fenced, blobs, runId, tier, config: runtime.champion, objective });
      return result;
    }

    result.gate = await applyGate(fenced, runId, runtime.gate, tier);
    // Sweep trials are not promoted one by one: the sweep's leaderboard says which is best.
    if (result.gate.passed && runtime.promotesTo && !sweep) result.promoted = await promote(run, runtime.promotesTo, { ...deps, store: fenced });
    if (result.gate.passed && runtime.champion && !sweep) result.champion = await challengeChampion({ store: fenced, blobs, runId, tier, config: runtime.champion, objective });
    return result;
  }
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

/**
 * This process's training thread, shared by its pools (training is one at a time per
 * process anyway), started by the first pool and closed with the last.
 */
let sharedThread: { thread: TrainingThread; users: number } | null = null;
function trainingThread(): TrainingThread {
  sharedThread ??= { thread: new TrainingThread(), users: 0 };
  return sharedThread.thread;
}
function acquireTrainingThread(): TrainingThread {
  const thread = trainingThread();
  sharedThread!.users++;
  return thread;
}
async function releaseTrainingThread(thread: TrainingThread): Promise<void> {
  if (!sharedThread || sharedThread.thread !== thread || --sharedThread.users > 0) return;
  sharedThread = null;
  await thread.close();
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
    tags: { ...pick(run.tags, ['definition', 'module']), promoted_from: run.id },
    queuePrefix: deps.queues.prefix,
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
  /** Graceful: running jobs checkpoint and are handed back, then the workers close. `step` hears what it waits on. */
  close(step?: (what: string) => void): Promise<void>;
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
    /** A newer attempt took a run over from this worker: it stopped, the store refusing its writes. */
    onTakenOver?: (runId: string, e: FencedError) => void;
    /** BullMQ could not renew a job's lock (it expired): this worker stopped training the run. */
    onLockLost?: (runId: string) => void;
    /**
     * This process's event loop stalled too long for the lock at a job's start: the job went
     * back to its queue. The worker cannot hold its jobs' locks; stop it (see LockGuard).
     */
    onLockTooShort?: (e: LockTooShortError) => void;
  },
): Promise<WorkerPool> {
  const lockMs = deps.lockDurationMs ?? 60_000;
  checkLockMs(lockMs);
  const prefix = deps.prefix ?? DEFAULT_QUEUE_PREFIX;
  const sweepDeps = { store: deps.store, queues: deps.queues };
  // Started now, so that the first job does not wait for tfjs to load in it.
  const thread = deps.trainIn === 'main' ? null : (deps.thread ?? acquireTrainingThread());
  thread?.warm();
  const runDeps: WorkerDeps = { ...deps, heads: deps.heads ?? new RunHeadLoader(deps.store), lockMs, ...(thread ? { thread } : {}) };
  // Per job: aborted when BullMQ fails to renew its lock.
  const lockLost = new Map<string, AbortController>();
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
        const lost = new AbortController();
        const key = String(job.id);
        lockLost.set(key, lost);
        try {
          result = await processRun(runId, runDeps, {
            attempt: job.attemptsMade + 1,
            maxAttempts: job.opts.attempts ?? 1,
            ...(signal ? { signal } : {}),
            lockLost: lost.signal,
            shuttingDown: () => shuttingDown,
          });
        } catch (e) {
          // Handed back: straight to waiting for the next worker, without spending an attempt
          // (thrown as a failure it would use one, and on the last it would fail the job for good
          // while the run stays `running`). So is a job this worker cannot hold the lock of.
          if ((e instanceof HandedBackError || e instanceof LockRefusedError) && token) {
            handedBack = true;
            if (e instanceof LockRefusedError) {
              // Take no more jobs here meanwhile (the caller is told to stop the worker).
              for (const w of workers) void w.pause(true).catch(() => undefined);
              deps.onLockTooShort?.(e.refusal);
            }
            await job.moveToWait(token).catch(() => undefined);
            throw new WaitingError();
          }
          // The lock is gone: BullMQ refuses this worker's verdict on the job (it is stalled, or
          // another worker's), and the run stays as it is for whoever takes the job.
          if (e instanceof LockLostError) {
            handedBack = true;
            deps.onLockLost?.(runId);
          }
          throw e;
        } finally {
          if (lockLost.get(key) === lost) lockLost.delete(key);
          // A sweep trial that ended here makes room for the next: advance its sweep (never failing
          // this job for it). Runs with no parent are no trial; a job that threw is looked up.
          if (!handedBack && !result?.takenOver && (!result || result.parentRunId)) await advanceSweepOf(runId, sweepDeps).catch((e: Error) => deps.onSweepError?.(runId, e));
        }
        // Taken over: the job is the newer attempt's worker's (BullMQ refuses to complete it
        // here unless nobody holds its lock).
        if (result.takenOver) deps.onTakenOver?.(runId, result.takenOver);
        else deps.onResult?.(result);
        return result;
      },
      {
        connection: track(deps.connection.duplicate({ maxRetriesPerRequest: null })),
        concurrency: deps.concurrency ?? runtime.concurrency,
        // A job's lock is renewed every lockDuration/2; a worker that dies (SIGKILL, lost
        // machine) stops renewing, and the stalled-job check hands its jobs to another worker.
        lockDuration: lockMs,
        stalledInterval: deps.stalledIntervalMs ?? Math.max(1_000, Math.round(lockMs / 4)),
        maxStalledCount: 3,
      },
    );
    worker.on('failed', (job, e) => job && deps.onError?.(job.data.runId, e));
    // Another worker may have the job now: stop training it (its writes would be refused anyway).
    worker.on('lockRenewalFailed', (ids: string[]) => {
      for (const id of ids) lockLost.get(id)?.abort();
    });
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
    async close(step = () => undefined) {
      if (sweepTimer) clearInterval(sweepTimer);
      deps.connection.off('close', onClose);
      deps.connection.off('ready', onReady);
      step('the lost-job sweep in progress');
      await sweeping;
      shuttingDown = true;
      for (const w of workers) w.cancelAllJobs('worker shutting down');
      step(`the running jobs to checkpoint and the ${workers.length} BullMQ worker(s) to close`);
      await Promise.all(workers.map((w) => w.close()));
      step('the cancel subscription to quit');
      await sub.quit().catch(() => undefined);
      for (const c of connections) c.disconnect();
      step('the training thread to end');
      if (thread && !deps.thread) await releaseTrainingThread(thread);
    },
  };
}

/**
 * The store is the record of what should be queued: a run `queued` for this prefix whose
 * job is not in its tier's queue (Redis restarted without persistence, or failed over and
 * lost its last writes) is queued again with its tier's retry policy. The job id is the
 * run id, so a run being submitted at this very moment is never queued twice. "For this
 * prefix" is the run's queue prefix, which only the pipeline writes when it queues a run:
 * no tag edit strands a job or hands it to another prefix's workers.
 */
export async function requeueLostJobs(deps: { store: Store; queues: TierQueues; config: PipelineConfig; tiers?: readonly Tier[] }): Promise<string[]> {
  const tiers = deps.tiers ?? TIERS;
  const requeued: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await deps.store.listQueuedRuns({ prefix: deps.queues.prefix, after, limit: REQUEUE_PAGE });
    for (const run of page) {
      const tier = run.tier as Tier;
      if (!tiers.includes(tier)) continue;
      if (await deps.queues.get(tier).getJob(run.id)) continue;
      await deps.queues.enqueue(tier, run.id, jobOptions(deps.config.tiers[tier]));
      requeued.push(run.id);
    }
    if (page.length < REQUEUE_PAGE) return requeued;
    after = page[page.length - 1]!.id;
  }
}

const REQUEUE_PAGE = 500;
