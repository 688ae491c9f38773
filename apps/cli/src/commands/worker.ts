import { Option, type Command } from 'commander';
import { KNOWN_TRAINERS, TIERS, type BackendName, type Tier } from '@cairn/engine';
import { globalOptions, storeOptions } from '../context.ts';
import { UsageError } from '../errors.ts';
import { oneLine } from '../output/format.ts';
import { pipelineOptions, workerLib, type PipelineCmdOptions } from '../pipeline.ts';
import { dataLocation } from './data.ts';

interface WorkerCmdOptions extends PipelineCmdOptions {
  tiers?: Tier[];
  concurrency?: number;
  metricsPort?: number;
  metricsHost?: string;
  backend?: BackendName;
  trainer?: string;
  lockMs?: number;
  trainIn?: 'thread' | 'main';
}

/** `ci,extended` → tiers, refusing unknown ones. */
export function parseTierList(v: string): Tier[] {
  const names = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
  const bad = names.filter((n) => !(TIERS as readonly string[]).includes(n));
  if (!names.length || bad.length) throw new UsageError(`--tiers takes a comma-separated list of ${TIERS.join(', ')}, got '${oneLine(v)}'`);
  return names as Tier[];
}

function whole(option: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || n < min || n > max) throw new UsageError(`${option} takes a whole number ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `≥ ${min}`}, got '${oneLine(v)}'`);
    return n;
  };
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('take training jobs from the tier queues and run them, until SIGTERM or Ctrl-C')
    .option('--tiers <list>', 'tiers to consume, comma-separated (default: all: ci,extended,nightly,weekly)', parseTierList)
    .option('--concurrency <n>', "jobs at once per tier (default: each tier's concurrency in the config)", whole('--concurrency', 1))
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://HOST:PORT/metrics (default: off; 9464 is the usual port)', whole('--metrics-port', 0, 65535))
    .option('--metrics-host <host>', 'interface the metrics endpoint listens on (default: all)')
    .option('--lock-ms <ms>', "a job's lock without renewal: a worker that dies has its jobs taken by another within about this long (default 60000; at least 2000, and over twice the longest event-loop stall measured at a job's start)", whole('--lock-ms', 1))
    .addOption(new Option('--train-in <where>', 'thread: train in a worker thread, keeping the event loop free for lock renewal (default); main: on the event loop, for a backend that cannot load in a thread').choices(['thread', 'main']))
    .addOption(new Option('--backend <name>', 'force a tfjs backend, and with it the tfjs trainer (default: $CAIRN_BACKEND, else the best usable)').choices(['tensorflow', 'webgpu', 'wasm', 'cpu']))
    .addOption(new Option('--trainer <name>', 'force a trainer (default: $CAIRN_TRAINER, else the best one that supports each model; see cairn backends)').choices([...KNOWN_TRAINERS]));
  pipelineOptions(cmd)
    .addHelpText(
      'after',
      `
One process, one BullMQ worker per tier. Each job: the run's code bundle and data snapshot
from the blob store, training with the tier's settings, tracked in the store; then the
tier's gate, and promotion when it passes. Scheduled tiers (nightly, weekly) get their job
schedulers registered at startup. Any number of workers on any number of machines share
the queues: they need the same Redis, store (PostgreSQL) and blob store (CAIRN_BLOBS).

SIGTERM or Ctrl-C: no more jobs are taken, running ones checkpoint and go back to the
queue (the next worker resumes them), and the worker exits 0. A second signal exits at once.

On the embedded store (PGlite, one process) the worker hosts it on a loopback port while
it runs, so cairn commands on the same CAIRN_HOME (submit, queue, runs, ui) keep working
through it. For workers on several machines use PostgreSQL (--db or DATABASE_URL).

Redis: REDIS_URL, else the config's redisUrl, else redis://127.0.0.1:6379. Nothing answering
is an error at once, never a wait.

Examples:
  cairn worker
  cairn --db postgres://cairn@db/cairn worker --tiers ci,extended --concurrency 2 --metrics-port 9464`,
    )
    .action(async (opts: WorkerCmdOptions, c: Command) => {
      const g = globalOptions(c);
      const { runWorker } = await workerLib();
      const code = await runWorker({
        ...(opts.tiers ? { tiers: opts.tiers } : {}),
        ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
        ...(opts.metricsPort !== undefined ? { metricsPort: opts.metricsPort } : {}),
        ...(opts.metricsHost ? { metricsHost: opts.metricsHost } : {}),
        ...(opts.config ? { configFile: opts.config } : {}),
        ...(opts.queuePrefix ? { queuePrefix: opts.queuePrefix } : {}),
        ...(opts.backend ? { backend: opts.backend } : {}),
        ...(opts.trainer ? { trainer: opts.trainer } : {}),
        ...(opts.lockMs !== undefined ? { lockMs: opts.lockMs } : {}),
        ...(opts.trainIn ? { trainIn: opts.trainIn } : {}),
        store: storeOptions(g),
        blobs: dataLocation(c).blobs,
      });
      if (code) process.exitCode = code;
    });
}
