import type { IncomingMessage } from 'node:http';

/** A refusal with its HTTP status and a stable code, answered as `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** `application/json`, with at most a UTF-8 charset; anything else is a 415. */
export function checkJsonContentType(header: string | undefined): void {
  if (!header) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with content-type: application/json');
  const [type, ...params] = header.split(';');
  if (type!.trim().toLowerCase() !== 'application/json') {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${JSON.stringify(header.slice(0, 100))} is not supported; send application/json`);
  }
  for (const p of params) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    if (name !== 'charset') continue;
    const value = eq < 0 ? '' : p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (value !== 'utf-8' && value !== 'utf8') throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `charset ${JSON.stringify(value.slice(0, 40))} is not supported; send UTF-8 JSON`);
  }
}

const tooLarge = (limit: number) => new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is over the limit of ${limit} bytes`);

/**
 * The request body as parsed JSON. A declared Content-Length over `limit` is refused before
 * anything is read; a body that grows past it is refused as soon as it does, and what
 * follows is never kept (the caller answers, then `discardRest` drains a bounded amount so
 * the client can read the answer, and cuts the connection beyond that).
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  return new Promise<unknown>((resolve, reject) => {
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
        finish(() => reject(tooLarge(limit)));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () =>
      finish(() => {
        try {
          resolve(parseJson(Buffer.concat(chunks, size)));
        } catch (e) {
          reject(e);
        }
      });
    const onError = (e: Error) => finish(() => reject(new HttpError(400, 'BAD_REQUEST', `the request body could not be read: ${e.message}`)));
    const onAborted = () => finish(() => reject(new HttpError(400, 'BAD_REQUEST', 'the client aborted the request')));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the body is not valid UTF-8');
  }
  if (text.trim() === '') throw new HttpError(400, 'INVALID_JSON', 'the body is empty; send a JSON object such as { "rows": [...] }');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, 'INVALID_JSON', `the body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
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
