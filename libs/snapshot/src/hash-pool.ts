import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CairnError, type CairnErrorCode } from '@cairn/schema';
import type { BlobId } from './types.ts';

export interface FileChunks {
  path: string;
  size: number;
  mtimeMs: number;
  chunks: BlobId[];
  chunkSizes: number[];
}

/** @internal messages between the pool and hash-worker.ts */
export interface WorkerRequest {
  seq: number;
  path: string;
}
/** @internal */
export type WorkerReply = { seq: number; result: FileChunks } | { seq: number; error: { message: string; code?: string } };

const WORKER_URL = new URL('./hash-worker.ts', import.meta.url).href;
// Resolved here: an eval'd worker resolves bare specifiers from the process's cwd, which
// for the CLI is the user's folder, not this package.
const TSX_API = import.meta.resolve('tsx/esm/api');
// Dynamic imports only, so it runs whether the worker evaluates it as CommonJS or (when the
// parent was started with --input-type=module) as an ES module.
const BOOTSTRAP = `
import('node:worker_threads')
  .then(({ workerData }) => import(workerData.tsx).then(({ register }) => { register(); return import(workerData.entry); }));
`;

interface Job {
  seq: number;
  path: string;
  resolve: (r: FileChunks) => void;
  reject: (e: Error) => void;
}

/**
 * Hashes and chunks files on worker threads; the workers write chunk blobs into the
 * LocalBlobStore at `storeRoot` themselves so file bytes never cross threads. Two
 * workers gave 1.7x on many small files on the 2-core reference machine. Each worker
 * holds up to `depth` jobs at once (default 8), so its blob writes, each ending in an
 * fsync, overlap instead of queueing one behind the other.
 */
export class HashPool {
  private readonly workers: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<Worker, Map<number, Job>>();
  private readonly depth: number;
  private seq = 0;
  private closed = false;

  constructor(options: { storeRoot: string; workers?: number; depth?: number; /** Blobs skip their own fsync (an unsynced batch). */ deferSync?: boolean }) {
    const count = Math.max(1, options.workers ?? Math.min(2, cpus().length));
    this.depth = Math.max(1, options.depth ?? 8);
    for (let i = 0; i < count; i++) {
      // On Node 20 `execArgv: ['--import', 'tsx']` does not reach a worker's module loader
      // (ERR_UNKNOWN_FILE_EXTENSION for the .ts entry), so a small JS bootstrap registers
      // tsx's ESM hooks inside the worker and then imports the TypeScript worker file.
      const w = new Worker(BOOTSTRAP, {
        eval: true,
        workerData: { storeRoot: options.storeRoot, deferSync: options.deferSync ?? false, entry: WORKER_URL, tsx: TSX_API },
      });
      w.on('message', (m: WorkerReply) => this.settle(w, m));
      w.on('error', (e) => this.fail(w, e));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(w, new Error(`hash worker exited with code ${code}`));
      });
      this.workers.push(w);
      this.running.set(w, new Map());
    }
  }

  hash(path: string): Promise<FileChunks> {
    if (this.closed) return Promise.reject(new Error('HashPool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ seq: this.seq++, path, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('HashPool closed'));
    for (const jobs of this.running.values()) for (const job of jobs.values()) job.reject(new Error('HashPool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      // The least loaded live worker with room.
      let best: Worker | null = null;
      let load = this.depth;
      for (const [w, jobs] of this.running) {
        if (jobs.size < load) {
          best = w;
          load = jobs.size;
        }
      }
      if (!best) return;
      const job = this.queue.shift()!;
      this.running.get(best)!.set(job.seq, job);
      best.postMessage({ seq: job.seq, path: job.path } satisfies WorkerRequest);
    }
  }

  private settle(w: Worker, m: WorkerReply): void {
    const jobs = this.running.get(w);
    const job = jobs?.get(m.seq);
    if (job) {
      jobs!.delete(m.seq);
      if ('result' in m) job.resolve(m.result);
      else job.reject(rebuild(m.error));
    }
    this.dispatch();
  }

  private fail(w: Worker, e: Error): void {
    const jobs = this.running.get(w);
    this.running.delete(w);
    for (const job of jobs?.values() ?? []) job.reject(e);
    // A dead worker is not replaced; once all are gone, queued jobs fail instead of hanging.
    if (this.running.size === 0) {
      for (const q of this.queue.splice(0)) q.reject(e);
    } else {
      this.dispatch();
    }
  }
}

const CAIRN_CODES = new Set<string>(['INVALID_INPUT', 'NOT_FOUND', 'CONFLICT', 'PARAM_CONFLICT', 'INVALID_STATE', 'FILTER_SYNTAX', 'STORE_LOCKED', 'STORE_DAMAGED', 'STORE_UNREACHABLE']);

/** A worker's error as the caller would have seen it in-thread: typed when it was a CairnError, else with its errno code. */
function rebuild(e: { message: string; code?: string }): Error {
  if (e.code && CAIRN_CODES.has(e.code)) return new CairnError(e.code as CairnErrorCode, e.message);
  return Object.assign(new Error(e.message), { code: e.code });
}
