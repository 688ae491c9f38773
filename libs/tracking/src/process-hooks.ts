import os from 'node:os';
import { inspect } from 'node:util';
import type { EndStatus } from '@cairn/store';
import { errorReason } from './errors.ts';

/** What the hooks need from a run. */
export interface HookedRun {
  readonly id: string;
  end(status: EndStatus, reason?: string | null): Promise<unknown>;
}

export interface ProcessHookOptions {
  /** How long a crash or a signal waits for runs to be ended before exiting anyway (default 10 s). */
  exitTimeoutMs?: number;
}

const active = new Set<HookedRun>();
let installed: { remove(): void } | null = null;
let exitTimeoutMs = 10_000;

/**
 * Process hooks, installed while at least one run is active and removed when the last
 * one ends, so nothing outlives the runs (and tests leak no listeners):
 *
 * - `beforeExit` (the event loop ran dry, the script forgot `finish()`): flushes and
 *   ends active runs, `finished` (or `failed` when `process.exitCode` is non-zero).
 * - `uncaughtException` / `unhandledRejection`: ends active runs `failed` with the
 *   error's message, then crashes as Node would have (the error's report, exit code 1).
 * - `SIGINT` / `SIGTERM`: ends active runs `cancelled` with reason `signal SIGTERM`,
 *   then re-raises the signal so the process dies of it as it would have. A second
 *   signal while that happens exits at once.
 *
 * The hooks only stand in for Node's default behaviour: when the program has its own
 * listener for one of these events, that listener decides and the hook does nothing.
 */
export function trackRun(run: HookedRun, options: ProcessHookOptions = {}): void {
  if (options.exitTimeoutMs !== undefined) exitTimeoutMs = options.exitTimeoutMs;
  active.add(run);
  if (!installed) installed = install();
}

export function untrackRun(run: HookedRun): void {
  active.delete(run);
  if (active.size === 0) removeProcessHooks();
}

/** Removes the hooks now, whatever runs are active (they are no longer ended on exit). */
export function removeProcessHooks(): void {
  installed?.remove();
  installed = null;
}

export function processHooksInstalled(): boolean {
  return installed !== null;
}

/** Runs the hooks would end on exit. */
export function activeRunIds(): string[] {
  return [...active].map((r) => r.id);
}

async function endAll(status: EndStatus, reason: string | null): Promise<void> {
  const runs = [...active];
  if (runs.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), exitTimeoutMs);
  });
  const ended = Promise.allSettled(runs.map((r) => r.end(status, reason))).then((results) => {
    results.forEach((r, i) => {
      if (r.status === 'rejected') process.stderr.write(`cairn: run ${runs[i]!.id}: ${errorReason(r.reason)}\n`);
    });
    return 'done' as const;
  });
  const outcome = await Promise.race([ended, deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    process.stderr.write(`cairn: gave up ending ${runs.length} run(s) as ${status} after ${exitTimeoutMs} ms; they will be marked lost\n`);
  }
}

function others(event: string, self: (...args: never[]) => unknown): number {
  return process.listeners(event as NodeJS.Signals).filter((l) => l !== self).length;
}

/** Node's --unhandled-rejections mode, when it is one that does not crash. */
function rejectionsDoNotCrash(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((f) => /^--unhandled-rejections=(warn|none)$/.test(f));
}

function install(): { remove(): void } {
  let exiting = false;

  const onBeforeExit = (code: number) => {
    if (exiting || active.size === 0) return;
    const exitCode = Number(process.exitCode ?? code ?? 0);
    const status: EndStatus = exitCode === 0 ? 'finished' : 'failed';
    void endAll(status, status === 'failed' ? `process exited with code ${exitCode}` : null);
  };

  const onUncaught = (err: unknown) => {
    if (exiting) return; // a second error while ending runs: the first one decides
    if (others('uncaughtException', onUncaught) > 0) return;
    exiting = true;
    void endAll('failed', errorReason(err)).finally(() => {
      removeProcessHooks();
      // Crash as Node would have: its report, exit code 1. (Throwing the error again
      // would make Node's report point at this line instead of the original throw.)
      process.stderr.write(`${err instanceof Error ? inspect(err) : `Uncaught ${inspect(err)}`}\n\nNode.js ${process.version}\n`);
      process.exit(1);
    });
  };

  const onRejection = (reason: unknown) => {
    if (exiting) return;
    if (others('unhandledRejection', onRejection) > 0 || rejectionsDoNotCrash()) return;
    exiting = true;
    void endAll('failed', errorReason(reason)).finally(() => {
      removeProcessHooks();
      // A fresh unhandled rejection: Node reports it and exits as it would have.
      void Promise.reject(reason);
    });
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (exiting) {
      process.exit(128 + (os.constants.signals[signal] ?? 1));
    }
    if (others(signal, onSignal) > 0) return;
    exiting = true;
    void endAll('cancelled', `signal ${signal}`).finally(() => {
      removeProcessHooks();
      if (process.listenerCount(signal) > 0) {
        process.exit(128 + (os.constants.signals[signal] ?? 1));
      }
      process.kill(process.pid, signal);
      // Where a signal cannot be re-raised (Windows), exit with the conventional code.
      setTimeout(() => process.exit(128 + (os.constants.signals[signal] ?? 1)), 1000).unref();
    });
  };

  process.on('beforeExit', onBeforeExit);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  return {
    remove() {
      process.off('beforeExit', onBeforeExit);
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onRejection);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
