import fs from 'node:fs';
import path from 'node:path';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CairnError, ValidationError } from '@cairn/schema';
import { blobRootFor, defaultConfig, type CairnConfig } from '@cairn/config';
import { TIERS, parseBackendName, parseTrainerName, quietTfjs, type BackendName, type Tier } from '@cairn/engine';
import { LocalBlobStore } from '@cairn/snapshot';
import { cairnHome, hostEmbeddedStore, openStore, redactUrl, resolveLocation, retryUnreachable, type OpenStoreOptions, type Store } from '@cairn/store';
import type { PipelineConfig } from '../config/index.ts';
import { checkLockMs } from '../lock-guard.ts';
import { TierQueues, type JobData } from '../queues.ts';
import { connectRedis } from '../redis.ts';
import { startWorkers, type ProcessResult, type WorkerPool } from '../worker.ts';
import { startHeartbeat, workerId, type WorkerBeat } from './heartbeat.ts';
import { stopWatch } from './stop-watch.ts';
import { oneLine, stamp } from './log-line.ts';
import { WorkerMetrics, serveMetrics, type JobOutcome } from './metrics.ts';
import { registerSchedules, scheduleQueue, startScheduleWorker } from './schedules.ts';
import { loadConfig, queuePrefixFor, redisUrlFor } from './settings.ts';

export interface WorkerOptions {
  /** Tiers to consume (default: all). */
  tiers?: Tier[];
  /** Jobs at once per tier, for every tier (default: each tier's `concurrency`). */
  concurrency?: number;
  /** Serve Prometheus metrics on this port (0: any free port); absent: no endpoint. */
  metricsPort?: number;
  /** Interface the metrics endpoint listens on (default: all). */
  metricsHost?: string;
  /** A config file instead of cairn.config.ts at `cwd`. */
  configFile?: string;
  /** The project root: config, and the code cache whose node_modules bundles import from (default: process.cwd()). */
  cwd?: string;
  /** Which store (default: the embedded store in ./.cairn; the app passes DATABASE_URL / CAIRN_HOME here). */
  store?: OpenStoreOptions;
  /** The blob store (default: `environment.blobs`, else <home>/blobs). */
  blobs?: string;
  /** BullMQ prefix (default: `environment.queuePrefix`, else the config's queuePrefix). */
  queuePrefix?: string;
  /** Force a tfjs backend (default: `environment.backend`, else the best usable). */
  backend?: BackendName;
  /** Force a trainer (default: `environment.trainer`, else the best one that supports each model). */
  trainer?: string;
  /**
   * What the app read from its environment (@cairn/config readConfig: CAIRN_BLOBS,
   * CAIRN_QUEUE_PREFIX, REDIS_URL, CAIRN_TRAINER, CAIRN_BACKEND, CAIRN_THREADS); the
   * options above win over it. Default: none of them set.
   */
  environment?: WorkerEnvironment;
  /**
   * How long a job's lock lasts unrenewed: how soon a dead worker's job goes to another
   * (default 60 s; at least MIN_LOCK_MS, and more than twice the longest stall of the
   * worker's event loop measured at a job's start: see lock-guard.ts).
   */
  lockMs?: number;
  /** Where training runs: 'thread' (default: a worker thread) or 'main' (this process's event loop). */
  trainIn?: 'thread' | 'main';
  /** How long to keep retrying when PostgreSQL cannot be reached, before a job fails for it (default 120 s). */
  storeRetryMs?: number;
  /** One line per event (default: stderr). */
  log?: (line: string) => void;
}

export type WorkerEnvironment = Pick<CairnConfig, 'blobs' | 'queuePrefix' | 'redisUrl' | 'trainer' | 'backend' | 'threads'>;

export interface StartedWorker {
  id: string;
  /** Settles when the worker must stop by itself: it cannot hold its jobs' locks (LockTooShortError). */
  failed: Promise<Error>;
  tiers: Tier[];
  prefix: string;
  config: PipelineConfig;
  metricsUrl: string | null;
  /** Stops taking jobs; running ones checkpoint and go back to their queue; then everything closes. */
  close(): Promise<{ handedBack: string[] }>;
}

export const defaultLog = (line: string) => process.stderr.write(`${line}\n`);


/**
 * Starts a worker process's machinery: one BullMQ Worker per tier (engine + tracking
 * client through processRun), the schedule worker and the tiers' job schedulers, a
 * heartbeat in Redis, and optionally a Prometheus endpoint. Fails fast, before taking any
 * job, when the config is invalid, Redis does not answer or the store cannot be opened.
 */
export async function startWorker(o: WorkerOptions = {}): Promise<StartedWorker> {
  const log = o.log ?? defaultLog;
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const tiers = o.tiers?.length ? [...new Set(o.tiers)] : [...TIERS];
  if (o.lockMs !== undefined) checkLockMs(o.lockMs);
  // A misspelt trainer fails the worker at start, not each of its jobs.
  const trainer = o.trainer !== undefined ? parseTrainerName(o.trainer, '--trainer') : undefined;
  const env = o.environment ?? defaultConfig();
  if (env.trainer !== undefined) parseTrainerName(env.trainer, 'CAIRN_TRAINER');
  if (env.backend !== undefined) parseBackendName(env.backend, 'CAIRN_BACKEND');
  let failWith: (e: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => (failWith = resolve));
  if (o.concurrency !== undefined && (!Number.isInteger(o.concurrency) || o.concurrency < 1)) throw new ValidationError(`concurrency must be a whole number ≥ 1, got ${o.concurrency}`);
  const config = await loadConfig(o.configFile, cwd);
  const prefix = queuePrefixFor(config, o.queuePrefix, env.queuePrefix);
  const url = redisUrlFor(config, env.redisUrl);

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async (step: (what: string) => void = () => undefined) => {
    for (const fn of cleanups.splice(0).reverse()) {
      step(`closing ${describe(fn)}`);
      await fn().catch(() => undefined);
    }
  };
  try {
    const redis: Redis = await connectRedis(url);
    cleanups.push(() => redis.quit());
    // Redis going away (a restart, a failover): every connection reconnects by itself and
    // jobs carry on; say so once each way rather than once per failed command.
    let redisLost = false;
    let stopping = false;
    redis.on('close', () => {
      if (redisLost || stopping) return;
      redisLost = true;
      log(`${stamp()} Redis connection lost; reconnecting (running jobs carry on)`);
    });
    redis.on('ready', () => {
      if (!redisLost) return;
      redisLost = false;
      log(`${stamp()} Redis reconnected`);
    });
    cleanups.push(async () => {
      stopping = true;
    });

    const storeOptions = o.store ?? {};
    const location = resolveLocation(storeOptions);
    if (location.driver === 'pglite' && !fs.existsSync(path.join(location.dataDir, 'PG_VERSION'))) {
      throw new CairnError('NOT_FOUND', `no Cairn store in ${location.home}: run 'cairn init' to create one, or point --home (CAIRN_HOME) or --db (DATABASE_URL) at your store`);
    }
    // The embedded store is hosted (or joined, when another Cairn process hosts it), not
    // held alone: cairn commands and the portal use it meanwhile through this process.
    const hosted = location.driver === 'pglite' ? await hostEmbeddedStore({ home: location.home, migrate: storeOptions.migrate }) : null;
    const opened: Store = hosted?.store ?? (await openStore(storeOptions));
    cleanups.push(() => opened.close());
    // PostgreSQL going away for a while (a restart, a failover) stalls the jobs rather than
    // failing them: every store call waits for it, metric points stay buffered meanwhile.
    let outage = false;
    const store = retryUnreachable(opened, {
      windowMs: o.storeRetryMs ?? 120_000,
      onRetry: (method, e, attempt) => {
        if (attempt === 1 && !outage) log(`${stamp()} store unreachable (${oneLine(e.message)}); retrying ${method} and every call after it`);
        outage = true;
      },
      onRecovered: (method, attempts, waitedMs) => {
        if (outage) log(`${stamp()} store reachable again (${method} went through after ${attempts} attempts, ${(waitedMs / 1000).toFixed(1)} s)`);
        outage = false;
      },
    });
    const home = location.driver === 'pglite' ? location.home : cairnHome(storeOptions.home);
    const blobs = new LocalBlobStore(blobRootFor(env, home, o.blobs));
    const queues = new TierQueues(redis, prefix);
    cleanups.push(() => queues.close());

    quietTfjs();
    const id = workerId();
    const metrics = new WorkerMetrics({ queues, tiers });
    const startedAt = new Date().toISOString();
    const running = new Map<string, { runId: string; tier: Tier; since: number; attempt: string }>();
    let beat: ReturnType<typeof startHeartbeat> | null = null;
    const concurrency = Object.fromEntries(tiers.map((t) => [t, o.concurrency ?? config.tiers[t].concurrency])) as Partial<Record<Tier, number>>;

    // Schedules: registered for this worker's scheduled tiers; fired by any worker.
    const schedules = scheduleQueue(redis, prefix);
    cleanups.push(() => schedules.close());
    const { registered, removed } = await registerSchedules(schedules, config, tiers);
    const scheduler = startScheduleWorker({
      connection: redis,
      prefix,
      store,
      queues,
      config,
      onFired: (r) => {
        const parts = [
          ...r.created.map((c) => `queued run ${c.runId} (code of ${c.candidate}, snapshot ${c.snapshotId.slice(0, 12)})`),
          ...r.skipped.map((s) => `skipped ${s.candidate}: ${s.reason}`),
          ...(r.note ? [r.note] : []),
        ];
        log(`${stamp()} [${r.tier}] schedule fired: ${parts.join('; ') || 'no candidates'}`);
      },
      onError: (tier, e) => log(`${stamp()} [${tier}] schedule failed: ${oneLine(e.message)}`),
    });
    cleanups.push(() => scheduler.close());

    const pool: WorkerPool = await startWorkers({
      store,
      blobs,
      home,
      queues,
      config,
      root: cwd,
      connection: redis,
      prefix,
      tierList: tiers,
      workerId: id,
      onRequeued: (ids) => log(`${stamp()} queued again ${ids.length} run${ids.length > 1 ? 's' : ''} whose job Redis had lost: ${ids.join(', ')}`),
      onTakenOver: (runId, e) => {
        const r = forget(runId, 'taken_over');
        log(`${stamp()} [${r?.tier ?? '?'}] run ${runId}: attempt ${e.attempt} was taken over by attempt ${e.current} (another worker took the job when this one's lock had expired); its writes are refused, so this worker stopped training and leaves the run to attempt ${e.current}`);
      },
      onLockLost: (runId) => {
        const r = forget(runId, 'lock_lost');
        log(`${stamp()} [${r?.tier ?? '?'}] run ${runId}: the job's lock could not be renewed (it had expired); stopped training here, and the run resumes from its last checkpoint wherever the job goes next`);
      },
      onLockTooShort: (e) => {
        log(`${stamp()} ${e.message}; the job went back to its queue and this worker stops`);
        failWith(e);
      },
      ...(o.lockMs !== undefined ? { lockDurationMs: o.lockMs } : {}),
      ...(o.trainIn ? { trainIn: o.trainIn } : {}),
      ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
      ...(o.backend ? { backend: o.backend } : {}),
      ...(trainer ? { trainer } : {}),
      configured: { ...(env.trainer !== undefined ? { trainer: env.trainer } : {}), ...(env.backend !== undefined ? { backend: env.backend } : {}), ...(env.threads !== undefined ? { threads: env.threads } : {}) },
    });
    let poolClosed = false;
    cleanups.push(async () => {
      if (!poolClosed) await pool.close();
    });
    pool.workers.forEach((worker, i) => {
      const tier = tiers[i]!;
      worker.on('active', (job: Job<JobData>) => {
        const runId = job.data.runId;
        // A job taken again after its worker died keeps its attempt number (BullMQ counts that as a stall).
        const attempt = `${job.attemptsMade + 1}/${job.opts.attempts || 1}${job.stalledCounter > 0 ? `, taken over after ${job.stalledCounter} stalled worker${job.stalledCounter > 1 ? 's' : ''}` : ''}`;
        running.set(String(job.id), { runId, tier, since: Date.now(), attempt });
        metrics.running.inc({ tier });
        log(`${stamp()} [${tier}] run ${runId} started (attempt ${attempt})`);
        void beat?.beatNow();
      });
      worker.on('completed', (job: Job<JobData>, result: ProcessResult) => {
        const started = finish(job);
        const seconds = started ? (Date.now() - started.since) / 1000 : 0;
        metrics.jobEnded(tier, result.status, seconds);
        if (result.gate) metrics.gates.inc({ tier, verdict: result.gate.passed ? 'passed' : 'failed' });
        const bits = [`run ${result.runId} ${result.status}${result.reason ? ` (${oneLine(result.reason)})` : ''} in ${seconds.toFixed(1)} s`];
        if (result.gate) bits.push(`gate ${result.gate.passed ? 'passed' : 'failed'}: ${Object.entries(result.gate.values).map(([k, v]) => `${k}=${v}`).join(', ')}${result.gate.missing.length ? ` (missing ${result.gate.missing.join(', ')})` : ''}`);
        if (result.promoted) bits.push(`promoted: queued run ${result.promoted}`);
        if (result.champion) bits.push(`champion ${result.champion.decision}: ${oneLine(result.champion.detail)}`);
        log(`${stamp()} [${tier}] ${bits.join('; ')}`);
        if (result.status !== 'skipped') {
          void store
            .getRun(result.runId)
            .then((run) => {
              const rate = run.metrics.examples_per_sec?.last;
              if (rate !== undefined && Number.isFinite(rate)) metrics.examplesPerSecond.set({ tier }, rate);
            })
            .catch(() => undefined);
        }
      });
      worker.on('failed', (job: Job<JobData> | undefined, e: Error) => {
        if (!job) return;
        const started = finish(job);
        const seconds = started ? (Date.now() - started.since) / 1000 : 0;
        const status: JobOutcome = job.finishedOn ? 'failed' : 'retrying';
        metrics.jobEnded(tier, status, seconds);
        log(`${stamp()} [${tier}] run ${job.data.runId} ${status === 'failed' ? 'failed' : 'failed, will retry'} after ${seconds.toFixed(1)} s: ${oneLine(e.message)}`);
      });
    });
    const ended = new Set<string>();
    /** A job this worker let go without BullMQ's word on it (taken over, lock lost): no 'completed' or 'failed' comes. */
    function forget(runId: string, outcome: JobOutcome) {
      const started = running.get(runId);
      if (!started) return undefined;
      running.delete(runId);
      ended.add(runId);
      metrics.running.dec({ tier: started.tier });
      metrics.jobEnded(started.tier, outcome, (Date.now() - started.since) / 1000);
      void beat?.beatNow();
      return started;
    }
    function finish(job: Job<JobData>) {
      const key = String(job.id);
      ended.add(key);
      const started = running.get(key);
      if (started) {
        running.delete(key);
        metrics.running.dec({ tier: started.tier });
        void beat?.beatNow();
        return started;
      }
      // Taken before the listeners were on (see adopt below): BullMQ's start time.
      return job.processedOn ? { since: job.processedOn } : undefined;
    }
    // A job can be taken in the moment between a worker starting and its listeners being
    // attached; its 'active' event is then missed. Adopt the active jobs whose lock is held
    // by one of this process's workers (BullMQ's tokens are `<worker id>:<n>`).
    await Promise.all(
      pool.workers.map(async (worker, i) => {
        const tier = tiers[i]!;
        const q = queues.get(tier);
        for (const job of await q.getActive().catch(() => [])) {
          const key = String(job.id);
          if (running.has(key) || ended.has(key)) continue;
          const lock = await redis.get(q.toKey(`${key}:lock`)).catch(() => null);
          if (!lock?.startsWith(`${worker.id}:`)) continue;
          const attempt = `${job.attemptsMade + 1}/${job.opts.attempts || 1}`;
          running.set(key, { runId: job.data.runId, tier, since: job.processedOn ?? Date.now(), attempt });
          metrics.running.inc({ tier });
          log(`${stamp()} [${tier}] run ${job.data.runId} started (attempt ${attempt})`);
        }
      }),
    );

    let server: Awaited<ReturnType<typeof serveMetrics>> | null = null;
    if (o.metricsPort !== undefined) {
      try {
        server = await serveMetrics(metrics, o.metricsPort, o.metricsHost);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new CairnError('CONFLICT', `cannot serve metrics on port ${o.metricsPort}: ${code === 'EADDRINUSE' ? 'the port is in use (pick another with --metrics-port)' : (e as Error).message}`);
      }
      const s = server;
      cleanups.push(() => s.close());
    }

    const beatInfo = (): WorkerBeat => ({
      id,
      host: id.split(':')[0]!,
      pid: process.pid,
      tiers,
      concurrency,
      startedAt,
      beatAt: startedAt,
      metricsUrl: server?.url ?? null,
      running: [...running.values()].map((r) => ({ runId: r.runId, tier: r.tier, since: new Date(r.since).toISOString() })),
    });
    const heartbeat = startHeartbeat(redis, prefix, beatInfo);
    beat = heartbeat;
    await heartbeat.beatNow();
    cleanups.push(() => heartbeat.stop());

    const storeShown =
      location.driver === 'postgres'
        ? redactUrl(location.url)
        : `${location.home} (embedded, ${hosted?.hosting ? `shared by this worker on ${redactUrl(hosted.url)}` : 'through the Cairn process hosting it'})`;
    log(`${stamp()} cairn worker ${id} consuming ${tiers.map((t) => `${t} (${concurrency[t]} at once)`).join(', ')} from ${redactUrl(url)}, queue prefix '${prefix}'`);
    log(`${stamp()}   store ${storeShown}; blobs ${blobs.root}`);
    if (registered.length) log(`${stamp()}   schedules ${registered.map((t) => `${t} '${config.tiers[t].schedule}' ${config.tiers[t].timezone}`).join(', ')}`);
    if (removed.length) log(`${stamp()}   removed the schedules of ${removed.join(', ')} (no schedule in the config)`);
    if (server) log(`${stamp()}   metrics ${server.url}`);

    let closing: Promise<{ handedBack: string[] }> | null = null;
    return {
      id,
      failed,
      tiers,
      prefix,
      config,
      metricsUrl: server?.url ?? null,
      close() {
        closing ??= (async () => {
          const watch = stopWatch(log, stamp);
          try {
            watch.step('the heartbeat to stop');
            await heartbeat.stop();
            // Running jobs checkpoint and go back to their queue for the next worker.
            await pool.close(watch.step);
            poolClosed = true;
            const handedBack = [...running.values()];
            for (const r of handedBack) {
              metrics.jobEnded(r.tier, 'handed_back', (Date.now() - r.since) / 1000);
              log(`${stamp()} [${r.tier}] run ${r.runId} handed back to the queue; it resumes from its last checkpoint`);
            }
            running.clear();
            await cleanup(watch.step);
            return { handedBack: handedBack.map((r) => r.runId) };
          } finally {
            watch.stop();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** A cleanup's source, shortened, as the name of what a slow stop waits on (`opened.close()`). */
function describe(fn: () => Promise<unknown>): string {
  const body = fn.toString().replace(/^(async\s*)?\(\)\s*=>\s*/, '').replace(/\s+/g, ' ');
  return body.length > 60 ? `${body.slice(0, 57)}...` : body;
}
