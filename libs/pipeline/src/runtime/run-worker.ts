import { CairnError } from '@cairn/schema';
import { stamp } from './log-line.ts';
import { defaultLog, startWorker, type WorkerOptions } from './start-worker.ts';

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
