import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { readConfig } from '@cairn/config';
import { isCairnError } from '@cairn/schema';
import { WORKER_DESCRIPTION, addWorkerOptions, runWorker, workerHelpText, workerOptionsFrom, type WorkerFlags } from '@cairn/pipeline';
import type { OpenStoreOptions } from '@cairn/store';

/**
 * The `cairn-worker` executable: the worker of @cairn/pipeline with the options `cairn
 * worker` has (one definition, addWorkerOptions), plus where the store is, which the CLI
 * takes for every command.
 */
export function workerProgram(): Command {
  const program = new Command('cairn-worker').description(WORKER_DESCRIPTION);
  addWorkerOptions(program)
    .option('--home <dir>', 'Cairn home of the embedded store (default: $CAIRN_HOME, else ./.cairn)')
    .option('--db <url>', 'PostgreSQL URL of a shared store (default: $DATABASE_URL)')
    .addHelpText('after', workerHelpText(['cairn-worker', 'cairn-worker --db postgres://cairn@db/cairn --tiers ci,extended --concurrency 2 --metrics-port 9464']))
    // Usage errors come back here (one line, exit 2) rather than exiting inside commander.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  return program;
}

/** Parses argv, runs the worker, returns the exit code: 2 for a usage error, 1 for a failure. */
export async function workerMain(argv: string[] = process.argv.slice(2)): Promise<number> {
  const program = workerProgram();
  let flags: WorkerFlags & { home?: string; db?: string };
  try {
    flags = program.parse(argv, { from: 'user' }).opts();
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help
      process.stderr.write(`cairn-worker: ${oneLine(e.message.replace(/^error:\s*/, '')).replace(/\.$/, '')}; see 'cairn-worker --help'\n`);
      return 2;
    }
    return report(e);
  }
  try {
    // The worker's one read of its environment (@cairn/config); the libs take options.
    const env = readConfig(process.env);
    const store: OpenStoreOptions = flags.db
      ? { url: flags.db }
      : flags.home
        ? { home: flags.home }
        : { ...(env.databaseUrl ? { url: env.databaseUrl } : {}), ...(env.home ? { home: env.home } : {}) };
    return await runWorker({ ...workerOptionsFrom(flags), store, environment: env });
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  const msg = isCairnError(e) || e instanceof Error ? e.message : String(e);
  process.stderr.write(`cairn-worker: ${oneLine(msg)}\n`);
  return isCairnError(e) && e.code === 'INVALID_INPUT' ? 2 : 1;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
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

/** How long a stopped worker's process may take to end by itself. */
const LINGER_MS = 10_000;

if (isEntryPoint()) {
  process.exitCode = await workerMain();
  exitIfHeld(process.exitCode);
}

/**
 * The worker has stopped and closed everything it opened; the process should end now.
 * If something still holds it after LINGER_MS (a handle nobody closed), say what and
 * exit anyway: an operator's stop must stop the process.
 */
function exitIfHeld(code: number): void {
  const timer = setTimeout(() => {
    const held = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout');
    process.stderr.write(`cairn-worker: stopped, but ${held.length ? held.join(', ') : 'something'} still held the process after ${LINGER_MS / 1000} s; exiting\n`);
    process.exit(code);
  }, LINGER_MS);
  timer.unref();
}
