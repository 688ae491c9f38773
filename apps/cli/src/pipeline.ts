import { Option, type Command } from 'commander';
import type { Tier } from '@cairn/engine';
import type { GateResult, PipelineConfig, ProcessResult, TierQueues, connectRedis } from '@cairn/pipeline';
import { liveHost, type RunDetail, type Store, type StoreLocation } from '@cairn/store';
import { UsageError } from './errors.ts';
import { formatNumber, oneLine } from './output/format.ts';
import { colors, info, out } from './output/io.ts';
import { cliConfig } from './config.ts';

/** Options the queue commands share: the config file, and the BullMQ prefix (hidden: tests and several projects on one Redis). */
/**
 * The queue libraries (BullMQ, ioredis, esbuild) load when a queue command runs, not at
 * every CLI start.
 */
export const pipelineLib = () => import('@cairn/pipeline');

export interface PipelineCmdOptions {
  config?: string;
  queuePrefix?: string;
}

export function pipelineOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'pipeline config (default: cairn.config.ts in the working directory, else the defaults)')
    .addOption(new Option('--queue-prefix <prefix>', 'BullMQ key prefix (default: $CAIRN_QUEUE_PREFIX, else the config\'s queuePrefix)').hideHelp());
}

/** The Redis connection connectRedis gives (ioredis), without depending on ioredis here. */
export type RedisConnection = Awaited<ReturnType<typeof connectRedis>>;

export interface PipelineContext {
  config: PipelineConfig;
  prefix: string;
  redisUrl: string;
}

export async function pipelineContext(opts: PipelineCmdOptions): Promise<PipelineContext> {
  const { loadConfig, queuePrefixFor, redisUrlFor } = await pipelineLib();
  const config = await loadConfig(opts.config);
  const env = cliConfig();
  return { config, prefix: queuePrefixFor(config, opts.queuePrefix, env.queuePrefix), redisUrl: redisUrlFor(config, env.redisUrl) };
}

/**
 * Connects to Redis (failing fast with how to get one: RedisUnavailableError, exit 1),
 * runs `fn` with the connection and the tier queues, and always disconnects.
 */
export async function withQueues<T>(ctx: PipelineContext, fn: (redis: RedisConnection, queues: TierQueues) => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
  const { connectRedis, TierQueues } = await pipelineLib();
  const redis = await connectRedis(ctx.redisUrl, { timeoutMs: options.timeoutMs ?? 2_000 });
  const queues = new TierQueues(redis, ctx.prefix);
  try {
    return await fn(redis, queues);
  } finally {
    await queues.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** `--timeout S`: seconds ≥ 0 (0: no limit). */
export function parseSeconds(option: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(v) || !Number.isFinite(n) || n < 0) throw new UsageError(`${option} takes a number of seconds ≥ 0, got '${oneLine(v)}'`);
    return n;
  };
}

const ENDED = ['finished', 'failed', 'abandoned', 'cancelled'];

export interface Waited {
  run: RunDetail;
  /** The run had not ended when the time ran out. */
  timedOut: boolean;
  /** The job failed for good while the run never ended (the reason BullMQ recorded). */
  jobFailure?: string;
}

/**
 * Polls the store until the run ends (every `pollMs`), printing its status changes to
 * stderr. Stops early when the run's BullMQ job has failed for good while the run is
 * still queued or running (nothing will end it then), and after `timeoutMs` (0: never).
 */
export async function waitForRun(store: Store, queues: TierQueues, runId: string, tier: Tier, options: { timeoutMs: number; pollMs?: number; quiet?: boolean }): Promise<Waited> {
  const deadline = options.timeoutMs > 0 ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
  const pollMs = options.pollMs ?? 1_000;
  let last = '';
  let failedSeen = 0;
  for (;;) {
    const run = await store.getRun(runId);
    if (run.status !== last) {
      if (!options.quiet && !ENDED.includes(run.status)) info(colors.dim(`run ${runId} ${run.status}${run.status === 'queued' ? ' (waiting for a worker)' : ''}`));
      last = run.status;
    }
    if (ENDED.includes(run.status)) return { run, timedOut: false };
    const job = await queues.get(tier).getJob(runId).catch(() => undefined);
    if (job && (await job.getState().catch(() => 'unknown')) === 'failed') {
      // Give the worker a moment to end the run after failing the job.
      if (++failedSeen >= 3) return { run, timedOut: false, jobFailure: job.failedReason || 'the job failed' };
    } else failedSeen = 0;
    if (Date.now() >= deadline) return { run, timedOut: true };
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
}

export interface Verdict {
  gate: GateResult | null;
  /** Who evaluated it: the pipeline (a worker, or an earlier command) whose verdict is recorded, or this command. */
  by: 'worker' | 'cli' | null;
  /** Recorded as the run's gate result (store.recordGateResult). */
  recorded: boolean;
  promoted?: string;
}

/**
 * The verdict of a tier's gate on an ended run. A worker evaluates and records the gate
 * when the run finishes: its verdict is the run's gate result for the tier (never a tag
 * or a note, which any editor may write). Without one (the run did not finish, or the
 * worker's config has no gate), the gate of `config` is evaluated here: recorded when the
 * run finished (like a worker would), only shown otherwise. Null when the tier has no
 * gate at all.
 */
export async function verdictFor(store: Store, run: RunDetail, config: PipelineConfig, tier: Tier, queues?: TierQueues): Promise<Verdict> {
  const { applyGate, evaluateGate, recordedGate } = await pipelineLib();
  const recorded = await recordedGate(store, run.id, tier);
  if (recorded) {
    const job = queues ? await queues.get(tier).getJob(run.id).catch(() => undefined) : undefined;
    const promoted = (job?.returnvalue as ProcessResult | undefined)?.promoted;
    const gate = { passed: recorded.passed, expression: recorded.expression, values: recorded.values, missing: recorded.missing };
    return { gate, by: 'worker', recorded: true, ...(promoted ? { promoted } : {}) };
  }
  const expression = config.tiers[tier].gate;
  if (!expression) return { gate: null, by: null, recorded: false };
  if (run.status === 'finished') return { gate: await applyGate(store, run.id, expression, tier), by: 'cli', recorded: true };
  return { gate: evaluateGate(expression, run, await store.listGateResults({ runIds: [run.id] })), by: 'cli', recorded: false };
}

/** The gate's verdict with one line per value it read. */
export function printVerdict(tier: Tier, v: Verdict): void {
  if (!v.gate) {
    out(colors.dim(`No ${tier} gate is configured: the run's status decides.`));
    return;
  }
  const g = v.gate;
  const head = g.passed ? colors.green('passed') : colors.red('failed');
  out(`Gate ${tier} ${head}: ${g.expression}${v.by === 'cli' && !v.recorded ? colors.dim(' (evaluated here, not recorded: the run did not finish)') : ''}`);
  const entries = Object.entries(g.values);
  const w = Math.max(0, ...entries.map(([k]) => k.length));
  for (const [k, value] of entries) {
    const missing = g.missing.includes(k);
    out(`  ${k.padEnd(w)}  ${showValue(value)}${missing ? colors.red('  (missing: a gate fails when a metric it names is missing or NaN)') : ''}`);
  }
}

export function showValue(v: number | string | null): string {
  if (v === null) return 'missing';
  if (typeof v === 'number') return formatNumber(v, 6);
  return oneLine(v);
}

/**
 * A worker must reach the store this command uses. PostgreSQL is shared by nature; the
 * embedded store is shared only while a long-lived Cairn process hosts it (`cairn worker`,
 * `cairn ui`, `cairn up`), so say how before queueing anything that would need it.
 */
export function requireSharedStore(location: StoreLocation, what: string): void {
  if (location.driver === 'pglite' && !liveHost(location.home)) {
    throw new UsageError(`${what} needs a shared store: start 'cairn worker' (or 'cairn up') first, which shares the embedded store in ${location.home} with other cairn commands while it runs, or use PostgreSQL (--db or DATABASE_URL)`);
  }
}
