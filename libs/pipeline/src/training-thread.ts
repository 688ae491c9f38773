import { Worker } from 'node:worker_threads';
import type { MetricPoint } from '@cairn/engine';
import type { TrainingHooks, TrainingJob, TrainingJobResult } from './training-job.ts';

/** Messages from the worker's main thread to the training thread. */
export type ToThread = { t: 'train'; job: TrainingJob; blobRoot: string } | { t: 'abort'; reason: string } | { t: 'reply'; id: number; error?: string };
/** Messages from the training thread. */
export type FromThread =
  | { t: 'ready' }
  | { t: 'metrics'; points: MetricPoint[] }
  | { t: 'call'; id: number; what: 'artifact' | 'environment'; arg: unknown }
  | { t: 'progress' }
  | { t: 'done'; result?: TrainingJobResult; error?: string };

/** How long a training thread has to stop after its job was aborted before it is terminated. */
export const ABORT_GRACE_MS = 60_000;

/**
 * Training off the worker's main thread. tfjs's kernels on the CPU (and wasm) are
 * synchronous: trained on the main thread, a step holds the event loop for its whole
 * length, and with it BullMQ's lock renewal, the run's heartbeat and metric flushes, and
 * pg's connection timers (a connect pending across a long step times out: the "store
 * unreachable" a worker logged with PostgreSQL up). In a worker thread the training
 * holds only its own loop; the main thread keeps renewing, heartbeating and writing, and
 * the reporter's calls come to it as messages, in order.
 *
 * One thread per process, started once and kept (loading tfjs and the libs in a thread
 * costs seconds), one job at a time. A thread that crashes fails its job and is replaced
 * for the next; one that does not stop within ABORT_GRACE_MS of an abort is terminated.
 */
export class TrainingThread {
  #worker: Worker | null = null;
  #ready: Promise<Worker> | null = null;
  #busy = false;
  #closed = false;

  /** Starts the thread now (it takes seconds) instead of at the first job. */
  warm(): void {
    this.#start().catch(() => undefined);
  }

  #start(): Promise<Worker> {
    if (this.#closed) return Promise.reject(new Error('the training thread is closed'));
    if (this.#ready) return this.#ready;
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { entry: ENTRY, tsx: ENTRY.endsWith('.ts') ? tsxLoader() : null } });
    worker.unref();
    // Errors during a job are the job's (see #relay); an idle thread's must not crash the process.
    worker.on('error', () => undefined);
    this.#worker = worker;
    const ready = new Promise<Worker>((resolve, reject) => {
      const onMessage = (m: FromThread) => {
        if (m.t !== 'ready') return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(worker);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the training thread exited (code ${code}) before it was ready`)));
    });
    worker.once('exit', () => {
      if (this.#worker === worker) {
        this.#worker = null;
        this.#ready = null;
      }
    });
    this.#ready = ready;
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = null;
    });
    return ready;
  }

  /** Trains one job in the thread, relaying its reporter calls to `hooks.reporter` here. */
  async train(job: TrainingJob, blobRoot: string, hooks: Omit<TrainingHooks, 'store'>): Promise<TrainingJobResult> {
    if (this.#busy) throw new Error('the training thread trains one job at a time');
    this.#busy = true;
    try {
      const worker = await this.#start();
      worker.ref();
      try {
        return await this.#relay(worker, job, blobRoot, hooks);
      } finally {
        worker.unref();
      }
    } finally {
      this.#busy = false;
    }
  }

  #relay(worker: Worker, job: TrainingJob, blobRoot: string, hooks: Omit<TrainingHooks, 'store'>): Promise<TrainingJobResult> {
    const { reporter, signal } = hooks;
    return new Promise<TrainingJobResult>((resolve, reject) => {
      let grace: NodeJS.Timeout | undefined;
      const onAbort = () => {
        const r: unknown = signal?.reason;
        worker.postMessage({ t: 'abort', reason: r instanceof Error ? r.message : typeof r === 'string' ? r : 'cancelled' } satisfies ToThread);
        grace = setTimeout(() => void worker.terminate(), ABORT_GRACE_MS);
        grace.unref();
      };
      const finish = () => {
        clearTimeout(grace);
        signal?.removeEventListener('abort', onAbort);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const reply = (id: number, error?: unknown) =>
        worker.postMessage({ t: 'reply', id, ...(error !== undefined ? { error: error instanceof Error ? error.message : String(error) } : {}) } satisfies ToThread);
      const onMessage = (m: FromThread) => {
        switch (m.t) {
          case 'metrics':
            try {
              reporter.metrics(m.points);
            } catch {
              // A run already detached (taken over, handed back) takes no more points.
            }
            break;
          case 'call': {
            const fn = m.what === 'artifact' ? () => reporter.artifact(m.arg as Parameters<typeof reporter.artifact>[0]) : () => reporter.environment?.(m.arg as Record<string, unknown>);
            Promise.resolve()
              .then(fn)
              .then(
                () => reply(m.id),
                (e: unknown) => reply(m.id, e ?? 'failed'),
              );
            break;
          }
          case 'progress':
            hooks.onProgress?.();
            break;
          case 'done':
            finish();
            if (m.result) resolve(m.result);
            else reject(new Error(`training failed in its thread: ${m.error ?? 'unknown error'}`));
            break;
        }
      };
      const onError = (e: Error) => {
        finish();
        reject(new Error(`the training thread crashed: ${e.message}`, { cause: e }));
      };
      const onExit = (code: number) => {
        finish();
        reject(new Error(signal?.aborted ? `the training thread did not stop within ${ABORT_GRACE_MS / 1000} s of being cancelled and was terminated` : `the training thread exited (code ${code})`));
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.postMessage({ t: 'train', job, blobRoot } satisfies ToThread);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = null;
    this.#ready = null;
    if (w) await w.terminate();
  }
}

const ENTRY = new URL(`./training-thread-entry${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

/** tsx's ESM loader, for a thread whose entry is TypeScript (the libs run from source). */
function tsxLoader(): string {
  return import.meta.resolve('tsx/esm/api');
}

// An eval'd script, so that the thread can register tsx before it imports the TypeScript
// entry (a Worker given a .ts file directly fails before any loader could be registered).
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((e) => { setImmediate(() => { throw e; }); });
`;
