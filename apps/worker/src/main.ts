import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CairnError, ValidationError, isCairnError } from '@cairn/schema';
import { TIERS, parseTrainerName, quietTfjs, trainerFromEnv, type BackendName, type Tier } from '@cairn/engine';
import { TierQueues, checkLockMs, connectRedis, startWorkers, type JobData, type PipelineConfig, type ProcessResult, type WorkerPool } from '@cairn/pipeline';
import { LocalBlobStore } from '@cairn/snapshot';
import { cairnHome, hostEmbeddedStore, openStore, redactUrl, resolveLocation, retryUnreachable, type OpenStoreOptions, type Store } from '@cairn/store';
import { startHeartbeat, workerId, type WorkerBeat } from './heartbeat.ts';
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
  /** Which store (default: DATABASE_URL, else the embedded store in CAIRN_HOME). */
  store?: OpenStoreOptions;
  /** The blob store (default: $CAIRN_BLOBS, else CAIRN_HOME/blobs). */
  blobs?: string;
  /** BullMQ prefix (default: $CAIRN_QUEUE_PREFIX, else the config's queuePrefix). */
  queuePrefix?: string;
  /** Force a tfjs backend (default: $CAIRN_BACKEND, else the best usable). */
  backend?: BackendName;
  /** Force a trainer (default: $CAIRN_TRAINER, else the best one that supports each model). */
  trainer?: string;
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

const defaultLog = (line: string) => process.stderr.write(`${line}\n`);

/** Parses `ci,extended` into tiers, refusing unknown ones. */
export function parseTiers(text: string): Tier[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new ValidationError(`--tiers takes a comma-separated list of ${TIERS.join(', ')}`);
  const bad = names.filter((n) => !(TIERS as readonly string[]).includes(n));
  if (bad.length) throw new ValidationError(`unknown tier${bad.length > 1 ? 's' : ''} ${bad.map((b) => `'${b}'`).join(', ')}: the tiers are ${TIERS.join(', ')}`);
  return [...new Set(names)] as Tier[];
}

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
  trainerFromEnv();
  let failWith: (e: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => (failWith = resolve));
  if (o.concurrency !== undefined && (!Number.isInteger(o.concurrency) || o.concurrency < 1)) throw new ValidationError(`concurrency must be a whole number ≥ 1, got ${o.concurrency}`);
  const config = await loadConfig(o.configFile, cwd);
  const prefix = queuePrefixFor(config, o.queuePrefix);
  const url = redisUrlFor(config);

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
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
    const blobs = new LocalBlobStore(path.resolve(o.blobs ?? (process.env.CAIRN_BLOBS || path.join(home, 'blobs'))));
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
          await heartbeat.stop();
          // Running jobs checkpoint and go back to their queue for the next worker.
          await pool.close();
          poolClosed = true;
          const handedBack = [...running.values()];
          for (const r of handedBack) {
            metrics.jobEnded(r.tier, 'handed_back', (Date.now() - r.since) / 1000);
            log(`${stamp()} [${r.tier}] run ${r.runId} handed back to the queue; it resumes from its last checkpoint`);
          }
          running.clear();
          await cleanup();
          return { handedBack: handedBack.map((r) => r.runId) };
        })();
        return closing;
      },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * Runs a worker until SIGTERM or SIGINT (or `signal`): then it stops taking jobs, lets
 * running ones checkpoint and hands them back to the queue, closes everything and
 * resolves with exit code 0. A second signal exits at once (code 1), without waiting.
 */
export async function runWorker(o: WorkerOptions & { signal?: AbortSignal; handleSignals?: boolean } = {}): Promise<number> {
  const log = o.log ?? defaultLog;
  const worker = await startWorker(o);
  let stopWith: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stopWith = resolve));
  let signals = 0;
  // Listeners that stay on for the whole shutdown: while there is one, the tracking
  // client's own signal hook leaves the runs alone (it would end them `cancelled` and
  // re-raise the signal), so running jobs are handed back instead.
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) return stopWith(signal);
    log(`${stamp()} ${signal} again: exiting now, without waiting for running jobs to checkpoint`);
    process.exit(1);
  };
  if (o.handleSignals !== false) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  let failure: Error | null = null;
  void worker.failed.then((e) => {
    failure = e;
    stopWith('cannot hold job locks');
  });
  try {
    if (o.signal?.aborted) stopWith('stop requested');
    o.signal?.addEventListener('abort', () => stopWith('stop requested'), { once: true });
    const why = await stopped;
    log(`${stamp()} ${why}: taking no more jobs; running ones checkpoint and go back to the queue`);
    const { handedBack } = await worker.close();
    log(`${stamp()} stopped${handedBack.length ? ` (${handedBack.length} job${handedBack.length > 1 ? 's' : ''} handed back)` : ''}`);
    // The worker's own failure is the caller's error (the CLI prints it and exits 1: the
    // option was fine on its face, the measurement refused it).
    if (failure) throw new CairnError('INVALID_STATE', (failure as Error).message, { cause: failure });
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

function stamp(): string {
  return new Date().toISOString();
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

export const WORKER_HELP = `Usage: cairn-worker [options]

Takes training jobs from the tier queues in Redis and runs them: one BullMQ worker per
tier, the engine with the tracking client, the tier's gate and promotion. Any number of
workers on any number of machines share the queues (they need the same store and blob
store). SIGTERM or SIGINT stops it gracefully: running jobs checkpoint and go back to the
queue, where the next worker resumes them; a second signal exits at once.

Options:
  --tiers <list>          tiers to consume, comma-separated (default: ci,extended,nightly,weekly)
  --concurrency <n>       jobs at once per tier (default: each tier's concurrency in the config)
  --metrics-port <port>   serve Prometheus metrics on http://HOST:PORT/metrics (default: off)
  --metrics-host <host>   interface for the metrics endpoint (default: all)
  --lock-ms <ms>          a job's lock without renewal: a worker that dies (killed, machine lost)
                          has its jobs taken by another within about this long (default 60000;
                          at least 2000, and over twice the longest stall of the worker's
                          event loop measured at a job's start: a shorter one is refused)
  --train-in <where>      thread (default): train in a worker thread, keeping this process's
                          event loop free for lock renewal, heartbeats and store writes;
                          main: on that loop, for a backend that cannot load in a thread
  --trainer <name>        force a trainer: native-cuda, native-cpu or tfjs (default:
                          $CAIRN_TRAINER, else the best one that supports each model)
  --config <file>         pipeline config (default: cairn.config.ts in the working directory)
  --home <dir>            Cairn home of the embedded store (default: $CAIRN_HOME, else ./.cairn)
  --db <url>              PostgreSQL URL of a shared store (default: $DATABASE_URL)
  -h, --help              this help

Environment: REDIS_URL (default redis://127.0.0.1:6379), DATABASE_URL, CAIRN_HOME,
CAIRN_BLOBS, CAIRN_BACKEND, CAIRN_TRAINER, CAIRN_QUEUE_PREFIX.

With the embedded store (PGlite in CAIRN_HOME) the worker hosts it, or joins the Cairn
process that already does: cairn commands, the portal and other workers on this machine
share it while the host runs. Use PostgreSQL (--db or DATABASE_URL) for workers on
several machines.`;

/** The `cairn-worker` executable: parses argv, runs the worker, returns the exit code. */
export async function workerMain(argv: string[] = process.argv.slice(2)): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        tiers: { type: 'string' },
        concurrency: { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        config: { type: 'string' },
        home: { type: 'string' },
        db: { type: 'string' },
        'queue-prefix': { type: 'string' },
        'lock-ms': { type: 'string' },
        'train-in': { type: 'string' },
        trainer: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`cairn-worker: ${(e as Error).message}; see 'cairn-worker --help'\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${WORKER_HELP}\n`);
    return 0;
  }
  try {
    const store: OpenStoreOptions = values.db ? { url: values.db } : values.home ? { home: values.home } : {};
    return await runWorker({
      ...(values.tiers !== undefined ? { tiers: parseTiers(values.tiers) } : {}),
      ...(values.concurrency !== undefined ? { concurrency: wholeNumber('--concurrency', values.concurrency, 1) } : {}),
      ...(values['metrics-port'] !== undefined ? { metricsPort: wholeNumber('--metrics-port', values['metrics-port'], 0, 65535) } : {}),
      ...(values['metrics-host'] !== undefined ? { metricsHost: values['metrics-host'] } : {}),
      ...(values.config !== undefined ? { configFile: values.config } : {}),
      ...(values['queue-prefix'] !== undefined ? { queuePrefix: values['queue-prefix'] } : {}),
      ...(values['lock-ms'] !== undefined ? { lockMs: wholeNumber('--lock-ms', values['lock-ms'], 1) } : {}),
      ...(values['train-in'] !== undefined ? { trainIn: parseTrainIn(values['train-in']) } : {}),
      ...(values.trainer !== undefined ? { trainer: values.trainer } : {}),
      store,
    });
  } catch (e) {
    const msg = isCairnError(e) || e instanceof Error ? e.message : String(e);
    process.stderr.write(`cairn-worker: ${oneLine(msg)}\n`);
    return isCairnError(e) && e.code === 'INVALID_INPUT' ? 2 : 1;
  }
}

/** Where training runs: `thread` or `main`. */
export function parseTrainIn(text: string): 'thread' | 'main' {
  if (text === 'thread' || text === 'main') return text;
  throw new ValidationError(`--train-in takes thread or main, got '${text}'`);
}

/** A whole number option in [min, max], or a ValidationError naming the option. */
export function wholeNumber(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ValidationError(`${option} takes a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` ≥ ${min}`}, got '${text}'`);
  }
  return n;
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(fs.realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await workerMain();
