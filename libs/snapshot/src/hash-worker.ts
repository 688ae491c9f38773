// Worker side of hash-pool.ts: hashes and chunks one file per message and writes the
// chunk blobs itself, so only ids (not bytes) cross back to the main thread. Several
// jobs may be in flight at once (the pool pipelines them so blob writes, each with its
// fsync, overlap): a small file gets its own buffer, and large files take turns on the
// shared read and chunk buffers.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalBlobStore } from './blob-store.ts';
import { FastCdc, SINGLE_CHUNK_LIMIT, CDC_MAX } from './fastcdc.ts';
import { hashBytes } from './hash.ts';
import type { FileChunks, WorkerReply, WorkerRequest } from './hash-pool.ts';

const { storeRoot, deferSync } = workerData as { storeRoot: string; deferSync: boolean };
const store = new LocalBlobStore(storeRoot);
const put = { deferSync };
const READ = 4 * 1024 * 1024;
/** Blob writes in flight per large file. */
const WRITES = 8;
const readBuf = new Uint8Array(READ);
// A chunk may straddle reads, so its bytes are gathered here (a chunk is at most CDC_MAX).
const chunkBuf = new Uint8Array(Math.max(CDC_MAX, SINGLE_CHUNK_LIMIT));
/** Large files run one at a time, since they share readBuf and chunkBuf. */
let largeTurn: Promise<unknown> = Promise.resolve();

/** A file up to SINGLE_CHUNK_LIMIT: one read into a buffer of its own, one blob. */
async function smallFile(path: string, fd: number, size: number, mtimeMs: number): Promise<FileChunks> {
  // One spare byte, so a file that grew since fstat reads long rather than silently truncated.
  const buf = Buffer.allocUnsafe(size + 1);
  let read = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, read, buf.length - read, null);
      if (n === 0) break;
      read += n;
      if (read === buf.length) break;
    }
  } finally {
    closeSync(fd);
  }
  if (read === 0) return { path, size: 0, mtimeMs, chunks: [], chunkSizes: [] };
  const bytes = buf.subarray(0, read);
  const id = hashBytes(bytes);
  await store.putKnown(id, bytes, put);
  return { path, size: read, mtimeMs, chunks: [id], chunkSizes: [read] };
}

async function largeFile(path: string, fd: number, mtimeMs: number): Promise<FileChunks> {
  const chunks: string[] = [];
  const chunkSizes: number[] = [];
  // Each chunk is copied out of the shared buffers so up to WRITES blob writes (each
  // ending in an fsync) overlap instead of running one after another.
  const pending = new Set<Promise<void>>();
  let failed: unknown = null;
  const emit = async (bytes: Uint8Array) => {
    const id = hashBytes(bytes);
    const p: Promise<void> = store.putKnown(id, Buffer.from(bytes), put).then(
      () => void pending.delete(p),
      (e: unknown) => {
        pending.delete(p);
        failed ??= e;
      },
    );
    pending.add(p);
    while (pending.size >= WRITES) await Promise.race(pending);
    if (failed) throw failed;
    chunks.push(id);
    chunkSizes.push(bytes.length);
  };
  const cdc = new FastCdc();
  let filled = 0;
  let total = 0;
  for (;;) {
    const n = readSync(fd, readBuf, 0, READ, null);
    if (n === 0) break;
    const data = readBuf.subarray(0, n);
    let from = 0;
    for (const end of cdc.push(data)) {
      const upto = end - total;
      if (filled === 0) {
        await emit(data.subarray(from, upto));
      } else {
        chunkBuf.set(data.subarray(from, upto), filled);
        await emit(chunkBuf.subarray(0, filled + upto - from));
      }
      filled = 0;
      from = upto;
    }
    if (filled + n - from > chunkBuf.length) throw new Error(`${path} grew while being read`);
    chunkBuf.set(data.subarray(from), filled);
    filled += n - from;
    total += n;
  }
  if (filled > 0) await emit(chunkBuf.subarray(0, filled));
  await Promise.all(pending);
  if (failed) throw failed;
  return { path, size: total, mtimeMs, chunks, chunkSizes };
}

async function chunkFile(path: string): Promise<FileChunks> {
  const fd = openSync(path, 'r');
  let st;
  try {
    st = fstatSync(fd);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  // smallFile closes fd itself right after its read, before the blob write.
  if (st.size <= SINGLE_CHUNK_LIMIT) return smallFile(path, fd, st.size, st.mtimeMs);
  const run = largeTurn.then(async () => {
    try {
      return await largeFile(path, fd, st.mtimeMs);
    } finally {
      closeSync(fd);
    }
  });
  largeTurn = run.catch(() => undefined);
  return run;
}

parentPort!.on('message', (req: WorkerRequest) => {
  chunkFile(req.path).then(
    (result): void => parentPort!.postMessage({ seq: req.seq, result } satisfies WorkerReply),
    (e: unknown): void => {
      const err = e as { message?: string; code?: string };
      parentPort!.postMessage({ seq: req.seq, error: { message: String(err.message ?? e), code: err.code } } satisfies WorkerReply);
    },
  );
});
