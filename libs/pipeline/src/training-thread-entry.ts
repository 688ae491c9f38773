import { parentPort } from 'node:worker_threads';
import { quietTfjs, type MetricPoint } from '@cairn/engine';
import { LocalBlobStore } from '@cairn/snapshot';
import { runTrainingJob, type TrainingJob } from './training-job.ts';
import type { FromThread, ToThread } from './training-thread.ts';

/**
 * The training thread's side (see training-thread.ts): takes one job at a time, trains it
 * with a reporter that posts to the worker's main thread, and waits for the main thread
 * to acknowledge each artifact, so a checkpoint is recorded only after the metrics logged
 * before it are stored, as on the main thread.
 */
const port = parentPort!;
const post = (m: FromThread) => port.postMessage(m);
const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let nextCall = 0;
let abort: AbortController | null = null;

function call(what: 'artifact' | 'environment', arg: unknown): Promise<void> {
  const id = ++nextCall;
  return new Promise<void>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    post({ t: 'call', id, what, arg });
  });
}

async function train(job: TrainingJob, blobRoot: string): Promise<void> {
  abort = new AbortController();
  try {
    const result = await runTrainingJob(job, {
      reporter: {
        metrics: (points: MetricPoint[]) => post({ t: 'metrics', points }),
        artifact: (a) => call('artifact', a),
        environment: (facts) => call('environment', facts),
      },
      store: new LocalBlobStore(blobRoot),
      signal: abort.signal,
      onProgress: () => post({ t: 'progress' }),
    });
    post({ t: 'done', result });
  } catch (e) {
    post({ t: 'done', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  } finally {
    abort = null;
  }
}

port.on('message', (m: ToThread) => {
  if (m.t === 'train') void train(m.job, m.blobRoot);
  else if (m.t === 'abort') abort?.abort(m.reason);
  else if (m.t === 'reply') {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error === undefined) p?.resolve();
    else p?.reject(new Error(m.error));
  }
});
// As the worker's main thread: the run's environment says which backends were skipped and why.
quietTfjs();
post({ t: 'ready' });
