// Worker side of hash-pool.ts: hashes and chunks one file per message and writes the
// chunk blobs itself, so only ids (not bytes) cross back to the main thread.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalBlobStore } from './blob-store.ts';
import { FastCdc, SINGLE_CHUNK_LIMIT, CDC_MAX } from './fastcdc.ts';
import { hashBytes } from './hash.ts';
import type { FileChunks, WorkerReply, WorkerRequest } from './hash-pool.ts';

const store = new LocalBlobStore((workerData as { storeRoot: string }).storeRoot);
const READ = 4 * 1024 * 1024;
const readBuf = new Uint8Array(READ);
// A chunk may straddle reads, so its bytes are gathered here (a chunk is at most CDC_MAX).
const chunkBuf = new Uint8Array(Math.max(CDC_MAX, SINGLE_CHUNK_LIMIT));

async function chunkFile(path: string): Promise<FileChunks> {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const chunks: string[] = [];
    const chunkSizes: number[] = [];
    const emit = async (bytes: Uint8Array) => {
      const id = hashBytes(bytes);
      await store.putKnown(id, bytes);
      chunks.push(id);
      chunkSizes.push(bytes.length);
    };
    const cdc = st.size > SINGLE_CHUNK_LIMIT ? new FastCdc() : null;
    let filled = 0;
    let total = 0;
    for (;;) {
      const n = readSync(fd, readBuf, 0, READ, null);
      if (n === 0) break;
      const data = readBuf.subarray(0, n);
      let from = 0;
      if (cdc) {
        for (const end of cdc.push(data)) {
          const upto = end - total;
          chunkBuf.set(data.subarray(from, upto), filled);
          await emit(chunkBuf.subarray(0, filled + upto - from));
          filled = 0;
          from = upto;
        }
      }
      if (filled + n - from > chunkBuf.length) throw new Error(`${path} grew while being read`);
      chunkBuf.set(data.subarray(from), filled);
      filled += n - from;
      total += n;
    }
    if (filled > 0) await emit(chunkBuf.subarray(0, filled));
    return { path, size: total, mtimeMs: st.mtimeMs, chunks, chunkSizes };
  } finally {
    closeSync(fd);
  }
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
