import { ValidationError, nameSchema, paramsSchema, tagsSchema, uuidSchema, type RunEnvironment } from '@cairn/schema';
import { openStore, type CodeRef, type Store } from '@cairn/store';
import { z } from 'zod';
import { captureContext, type CapturedContext } from './environment.ts';
import { HttpTransport } from './http-transport.ts';
import { DEFAULT_METRIC_BUFFER_OPTIONS } from './metric-buffer.ts';
import { ActiveRun, DisabledRun, type ChildRunOptions, type RunSettings, type TrackedRun, type TransportLease } from './run.ts';
import { DirectTransport, type Transport } from './transport.ts';
import { scriptSettings } from './script-env.ts';
import { validate } from './validate.ts';
import type { RunInfo } from './ingest-protocol.ts';

/** How often a run tells the store it is alive. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;
/**
 * How long without a heartbeat before `Store.markLostRuns` should call a running run
 * lost: twenty missed heartbeats. Generous on purpose, because a heartbeat needs a free
 * event loop and a long synchronous training step (a big tfjs op on the CPU) holds it.
 */
export const DEFAULT_LOST_RUN_TIMEOUT_MS = 20 * DEFAULT_HEARTBEAT_INTERVAL_MS;

export interface StartRunOptions {
  /** Experiment name (created when missing). Required unless `experimentId` or `runId` is given. */
  experiment?: string;
  /** An existing experiment's id, instead of a name. */
  experimentId?: string;
  /** Project name; the default project when omitted. */
  project?: string;
  /** Run name; a readable random one when omitted. */
  name?: string;
  params?: Record<string, string | number | boolean>;
  tags?: Record<string, string>;
  tier?: string | null;
  parentRunId?: string | null;
  /** Dataset snapshots the run trains on. */
  snapshotIds?: string[];
  /** Start this queued run (created by a scheduler) instead of creating one. */
  runId?: string;

  // Where to log: the first given wins.
  transport?: Transport;
  /** A store you opened; it stays open after the run ends. */
  store?: Store;
  /**
   * `http(s)://…` for a Cairn server, `postgres://…` for PostgreSQL. Default: env
   * CAIRN_URL, else the embedded store (DATABASE_URL, else PGlite under `home`).
   */
  url?: string;
  /** The embedded store's home (default: env CAIRN_HOME, else ./.cairn). */
  home?: string;

  /** Log nothing (the run still checks its input). Default: env CAIRN_DISABLED=1. */
  disabled?: boolean;
  /** Record git, machine and package-lock details (default true). */
  captureEnvironment?: boolean;
  /** Where to look for git and package-lock.json (default process.cwd()). */
  cwd?: string;
  /** More environment to record, merged over what is captured (e.g. `{ tfjsBackend: 'tensorflow' }`). */
  environment?: RunEnvironment;
  /** Overrides the captured code reference (e.g. a `codeHash` of your own). */
  code?: CodeRef;

  /** Send a batch when this many points wait (default 1,000). */
  maxBatchPoints?: number;
  /** Send what waits at least this often (default 1,000 ms). */
  flushIntervalMs?: number;
  /** Points kept while the store is unreachable; beyond it new points are dropped and counted (default 500,000). */
  maxBufferPoints?: number;
  /** Tries per batch before backing off to the next tick (default 5). */
  maxAttempts?: number;
  /** First retry delay, doubled per attempt with jitter (default 250 ms). */
  retryBaseMs?: number;
  /** Longest retry delay (default 30 s). */
  retryMaxMs?: number;
  /** Heartbeat period; 0 turns it off (default 15 s). */
  heartbeatIntervalMs?: number;
  /** End the run on crash, signal or a forgotten finish (default true); see process-hooks.ts. */
  processHooks?: boolean;
  /** How long a crash or signal waits for the run to be ended (default 10 s). */
  exitTimeoutMs?: number;
  /** Where warnings go (a full buffer, a failing store); default process.emitWarning. */
  onWarning?: (message: string) => void;
}

const positiveInt = z.number().int().min(1);
const settingsSchema = z.object({
  maxBatchPoints: positiveInt.max(10_000).optional(),
  flushIntervalMs: z.number().min(0).optional(),
  maxBufferPoints: positiveInt.optional(),
  maxAttempts: positiveInt.max(100).optional(),
  retryBaseMs: z.number().min(0).optional(),
  retryMaxMs: z.number().min(0).optional(),
  heartbeatIntervalMs: z.number().min(0).optional(),
  exitTimeoutMs: z.number().min(0).optional(),
});

/**
 * Starts a run and returns the handle training code logs through:
 *
 *   const run = await startRun({ experiment: 'mnist', params: { lr: 0.01 } });
 *   run.log({ loss }, { step });
 *   await run.finish();
 */
export async function startRun(options: StartRunOptions): Promise<TrackedRun> {
  if (options.disabled ?? scriptSettings().disabled) {
    checkOptions(options);
    return new DisabledRun(options.name);
  }
  checkOptions(options);
  const lease = await acquireTransport(options);
  return startWithLease(options, lease, undefined);
}

/** Runs `fn` in a run: finished when it returns, failed (and rethrown) when it throws. */
export async function withRun<T>(options: StartRunOptions, fn: (run: TrackedRun) => Promise<T> | T): Promise<T> {
  const run = await startRun(options);
  let result: T;
  try {
    result = await fn(run);
  } catch (e) {
    await run.fail(e).catch(() => {});
    throw e;
  }
  await run.finish();
  return result;
}

function checkOptions(o: StartRunOptions): void {
  if (o === null || typeof o !== 'object') throw new ValidationError('startRun() takes an options object, e.g. startRun({ experiment: "mnist" })');
  if (o.runId === undefined && o.experiment === undefined && o.experimentId === undefined) {
    throw new ValidationError('startRun() needs an experiment name, e.g. startRun({ experiment: "mnist" }), or the runId of a queued run');
  }
  if (o.experiment !== undefined && o.experimentId !== undefined) throw new ValidationError('give startRun() experiment (a name) or experimentId, not both');
  if (o.experiment !== undefined) validate(nameSchema, o.experiment, 'experiment name');
  if (o.experimentId !== undefined) validate(uuidSchema, o.experimentId, 'experiment id');
  if (o.project !== undefined) validate(nameSchema, o.project, 'project name');
  if (o.name !== undefined) validate(nameSchema, o.name, 'run name');
  if (o.runId !== undefined) validate(uuidSchema, o.runId, 'run id');
  if (o.parentRunId !== undefined && o.parentRunId !== null) validate(uuidSchema, o.parentRunId, 'parent run id');
  if (o.params !== undefined) validate(paramsSchema, o.params, 'params');
  if (o.tags !== undefined) validate(tagsSchema, o.tags, 'tags');
  validate(settingsSchema, pickSettings(o), 'tracking options');
}

function pickSettings(o: StartRunOptions) {
  const { maxBatchPoints, flushIntervalMs, maxBufferPoints, maxAttempts, retryBaseMs, retryMaxMs, heartbeatIntervalMs, exitTimeoutMs } = o;
  return { maxBatchPoints, flushIntervalMs, maxBufferPoints, maxAttempts, retryBaseMs, retryMaxMs, heartbeatIntervalMs, exitTimeoutMs };
}

function settingsFrom(o: StartRunOptions): RunSettings {
  const d = DEFAULT_METRIC_BUFFER_OPTIONS;
  return {
    maxBatchPoints: o.maxBatchPoints ?? d.maxBatchPoints,
    flushIntervalMs: o.flushIntervalMs ?? d.flushIntervalMs,
    maxBufferPoints: o.maxBufferPoints ?? d.maxBufferPoints,
    maxAttempts: o.maxAttempts ?? d.maxAttempts,
    retryBaseMs: o.retryBaseMs ?? d.retryBaseMs,
    retryMaxMs: o.retryMaxMs ?? d.retryMaxMs,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    processHooks: o.processHooks ?? true,
    exitTimeoutMs: o.exitTimeoutMs ?? 10_000,
    onWarning: o.onWarning ?? ((m) => process.emitWarning(m, { code: 'CAIRN_TRACKING' })),
  };
}

async function startWithLease(options: StartRunOptions, lease: TransportLease, inherited: CapturedContext | undefined): Promise<TrackedRun> {
  const transport = lease.transport;
  try {
    const captured =
      inherited ?? (options.captureEnvironment === false ? { environment: {}, code: {} } : await captureContext({ cwd: options.cwd }));
    const environment: RunEnvironment = { ...captured.environment, ...options.environment };
    const code: CodeRef = { ...captured.code, ...options.code };
    let info: RunInfo;
    if (options.runId !== undefined) {
      info = await transport.startRun(options.runId, { environment, code });
      if (options.params && Object.keys(options.params).length) await transport.logParams(info.id, options.params);
      if (options.tags && Object.keys(options.tags).length) await transport.setTags(info.id, options.tags);
    } else {
      info = await transport.createRun({
        project: options.project,
        experiment: options.experiment,
        experimentId: options.experimentId,
        name: options.name,
        status: 'running',
        tier: options.tier,
        parentRunId: options.parentRunId,
        snapshotIds: options.snapshotIds,
        params: options.params,
        tags: options.tags,
        code,
        environment,
      });
    }
    const context: CapturedContext = { environment: captured.environment, code: captured.code };
    const spawn = (parent: ActiveRun, childLease: TransportLease, child: ChildRunOptions): Promise<TrackedRun> => {
      const childOptions: StartRunOptions = {
        ...options,
        runId: undefined,
        experiment: child.experiment,
        experimentId: child.experiment === undefined ? parent.experimentId : undefined,
        name: child.name,
        params: child.params,
        tags: child.tags,
        tier: child.tier !== undefined ? child.tier : options.tier,
        snapshotIds: child.snapshotIds ?? options.snapshotIds,
        parentRunId: parent.id,
      };
      try {
        checkOptions(childOptions);
      } catch (e) {
        return childLease.release().then(() => Promise.reject(e));
      }
      return startWithLease(childOptions, childLease, context);
    };
    return new ActiveRun(info, lease, settingsFrom(options), spawn).begin();
  } catch (e) {
    await lease.release().catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Transports shared between the runs of a process

interface Shared {
  transport: Promise<Transport>;
  refs: number;
}
const shared = new Map<string, Shared>();

function fixedLease(transport: Transport): TransportLease {
  const lease: TransportLease = { transport, retain: () => lease, release: async () => {} };
  return lease;
}

/**
 * The transport for these options. One given (a transport or a store) is the caller's
 * to close. One opened here (a store, an HTTP client) is shared by the runs of the
 * process that name the same place, and closed when the last of them ends: PGlite
 * admits one opener per directory, so nested runs must share it.
 */
export async function acquireTransport(options: Pick<StartRunOptions, 'transport' | 'store' | 'url' | 'home'>): Promise<TransportLease> {
  if (options.transport) return fixedLease(options.transport);
  if (options.store) return fixedLease(new DirectTransport(options.store));
  const env = scriptSettings();
  const url = options.url ?? env.url;
  const http = url !== undefined && /^https?:\/\//i.test(url);
  const key = http ? `http ${url}` : `store ${url ?? ''} ${options.home ?? ''}`;
  let entry = shared.get(key);
  if (!entry) {
    const opening: Promise<Transport> = http
      ? Promise.resolve(new HttpTransport({ url: url! }))
      : openStore({ url: url ?? (options.home ? undefined : env.databaseUrl), home: options.home ?? env.home }).then((s) => new DirectTransport(s, { ownsStore: true }));
    const created: Shared = { transport: opening, refs: 0 };
    entry = created;
    shared.set(key, created);
    opening.catch(() => {
      if (shared.get(key) === created) shared.delete(key);
    });
  }
  entry.refs++;
  let transport: Transport;
  try {
    transport = await entry.transport;
  } catch (e) {
    entry.refs--;
    throw e;
  }
  return sharedLease(key, entry, transport);
}

function sharedLease(key: string, entry: Shared, transport: Transport): TransportLease {
  let released = false;
  return {
    transport,
    retain() {
      entry.refs++;
      return sharedLease(key, entry, transport);
    },
    async release() {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs === 0) {
        if (shared.get(key) === entry) shared.delete(key);
        await transport.close();
      }
    },
  };
}
