import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.ts';

/**
 * A `node:http` request's body, read until `limit` bytes and no further. A declared
 * Content-Length over the limit is refused before anything is read; a body that grows past
 * it is refused as soon as it does (with `tooLarge()`, so each server keeps its own 413),
 * and what follows is never kept: the caller answers, then `discardRest` drains a bounded
 * amount so the client can read the answer. A read error or an aborted request is a 400.
 */
export function readNodeBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      fn();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish(() => reject(tooLarge()));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(() => resolve(Buffer.concat(chunks, size)));
    const onError = (e: Error) => finish(() => reject(new HttpError(400, 'BAD_REQUEST', `the request body could not be read: ${e.message}`)));
    const onAborted = () => finish(() => reject(new HttpError(400, 'BAD_REQUEST', 'the client aborted the request')));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * After an early answer (413): reads and drops what the client still sends, so it can read
 * the answer rather than meet a reset, but no more than `cap` bytes or `ms` milliseconds;
 * beyond either the connection is cut.
 */
export function discardRest(req: IncomingMessage, cap: number, ms: number): void {
  if (req.complete || req.destroyed) return;
  let dropped = 0;
  const cut = () => {
    cleanup();
    req.socket?.destroy();
  };
  const timer = setTimeout(cut, ms);
  timer.unref();
  const onData = (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > cap) cut();
  };
  const cleanup = () => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', cleanup);
    req.off('close', cleanup);
  };
  req.on('data', onData);
  req.on('end', cleanup);
  req.on('close', cleanup);
  req.on('error', () => {});
  req.resume();
}
