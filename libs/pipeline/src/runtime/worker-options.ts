import { Option, type Command } from 'commander';
import { ValidationError } from '@cairn/schema';
import { BACKENDS, KNOWN_TRAINERS, TIERS, type BackendName, type Tier } from '@cairn/engine';
import type { WorkerOptions } from './start-worker.ts';

/**
 * The worker's command-line options, defined once: `cairn worker` and the `cairn-worker`
 * executable both add them with addWorkerOptions and turn what commander parsed into
 * WorkerOptions with workerOptionsFrom, so their flags, defaults, validation and help
 * cannot drift apart. Where the store is (--home, --db) is not here: the CLI has those
 * for every command, the worker's own entry adds them.
 */

/** What addWorkerOptions' flags parse to (commander's camel-cased names). */
export interface WorkerFlags {
  tiers?: Tier[];
  concurrency?: number;
  metricsPort?: number;
  metricsHost?: string;
  lockMs?: number;
  trainIn?: 'thread' | 'main';
  backend?: BackendName;
  trainer?: string;
  config?: string;
  queuePrefix?: string;
}

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

/** A whole number option in [min, max], or a ValidationError naming the option. */
export function wholeNumber(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ValidationError(`${option} takes a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` ≥ ${min}`}, got '${text}'`);
  }
  return n;
}

const whole = (option: string, min: number, max?: number) => (text: string) => wholeNumber(option, text, min, max);

/**
 * Adds the worker's options to `cmd`. A value that does not parse throws a
 * ValidationError (code INVALID_INPUT) out of commander's parse: both entries report it
 * as a usage error (exit 2).
 */
export function addWorkerOptions(cmd: Command): Command {
  return cmd
    .option('--tiers <list>', `tiers to consume, comma-separated (default: all: ${TIERS.join(',')})`, parseTiers)
    .option('--concurrency <n>', "jobs at once per tier (default: each tier's concurrency in the config)", whole('--concurrency', 1))
    .option('--metrics-port <port>', 'serve Prometheus metrics on http://HOST:PORT/metrics (default: off; 9464 is the usual port)', whole('--metrics-port', 0, 65535))
    .option('--metrics-host <host>', 'interface the metrics endpoint listens on (default: all)')
    .option(
      '--lock-ms <ms>',
      "a job's lock without renewal: a worker that dies (killed, machine lost) has its jobs taken by another within about this long (default 60000; at least 2000, and over twice the longest event-loop stall measured at a job's start: a shorter one is refused)",
      whole('--lock-ms', 1),
    )
    .addOption(new Option('--train-in <where>', 'thread: train in a worker thread, keeping the event loop free for lock renewal, heartbeats and store writes (default); main: on the event loop, for a backend that cannot load in a thread').choices(['thread', 'main']))
    .addOption(new Option('--backend <name>', 'force a tfjs backend, and with it the tfjs trainer (default: $CAIRN_BACKEND, else the best usable)').choices(BACKENDS))
    .addOption(new Option('--trainer <name>', 'force a trainer (default: $CAIRN_TRAINER, else the best one that supports each model; see cairn backends)').choices(KNOWN_TRAINERS))
    .option('--config <file>', 'pipeline config (default: cairn.config.ts in the working directory, else the defaults)')
    .addOption(new Option('--queue-prefix <prefix>', "BullMQ key prefix (default: $CAIRN_QUEUE_PREFIX, else the config's queuePrefix)").hideHelp());
}

/** The WorkerOptions that parsed flags ask for (the store and blob store are the caller's). */
export function workerOptionsFrom(flags: WorkerFlags): WorkerOptions {
  return {
    ...(flags.tiers ? { tiers: flags.tiers } : {}),
    ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
    ...(flags.metricsPort !== undefined ? { metricsPort: flags.metricsPort } : {}),
    ...(flags.metricsHost ? { metricsHost: flags.metricsHost } : {}),
    ...(flags.lockMs !== undefined ? { lockMs: flags.lockMs } : {}),
    ...(flags.trainIn ? { trainIn: flags.trainIn } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(flags.trainer ? { trainer: flags.trainer } : {}),
    ...(flags.config ? { configFile: flags.config } : {}),
    ...(flags.queuePrefix ? { queuePrefix: flags.queuePrefix } : {}),
  };
}

export const WORKER_DESCRIPTION = 'take training jobs from the tier queues and run them, until SIGTERM or Ctrl-C';

/** The help after the options list; `examples` are command lines in the caller's own form. */
export function workerHelpText(examples: readonly string[]): string {
  return `
One process, one BullMQ worker per tier. Each job: the run's code bundle and data snapshot
from the blob store, training with the tier's settings, tracked in the store; then the
tier's gate, and promotion when it passes. Scheduled tiers (nightly, weekly) get their job
schedulers registered at startup. Any number of workers on any number of machines share
the queues: they need the same Redis, store (PostgreSQL) and blob store (CAIRN_BLOBS).

SIGTERM or Ctrl-C: no more jobs are taken, running ones checkpoint and go back to the
queue (the next worker resumes them), and the worker exits 0. A second signal exits at once.

On the embedded store (PGlite, one process) the worker hosts it on a loopback port while
it runs, or joins the Cairn process that already does, so cairn commands on the same
CAIRN_HOME (submit, queue, runs, ui) keep working through it. For workers on several
machines use PostgreSQL (--db or DATABASE_URL).

Redis: REDIS_URL, else the config's redisUrl, else redis://127.0.0.1:6379. Nothing answering
is an error at once, never a wait.

Environment: REDIS_URL, DATABASE_URL, CAIRN_HOME, CAIRN_BLOBS, CAIRN_BACKEND, CAIRN_TRAINER,
CAIRN_QUEUE_PREFIX.

Examples:
${examples.map((e) => `  ${e}`).join('\n')}`;
}
