import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Store } from '@cairn/store';
import { parseOptionalJsonBody, readNodeBody } from '@cairn/http';
import { ValidationError } from '@cairn/schema';
import { executeIngestCall, ingestErrorAnswer, type IngestHandlerOptions } from './ingest-handler.ts';
import { INGEST_BASE_PATH, errorToWire } from './ingest-protocol.ts';
import { isJsonContentType, matchIngestRoute, parseIngestCall } from './ingest-routes.ts';

export interface IngestListenerOptions extends IngestHandlerOptions {
  /** Where the endpoint is mounted (default `INGEST_BASE_PATH`); other paths answer 404. */
  basePath?: string;
  /** Largest request body accepted (default 16 MiB). */
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_INGEST_BODY_BYTES = 16 * 1024 * 1024;

/**
 * A `node:http` request listener serving the ingest protocol with no accounts (local
 * mode, one user): `http.createServer(createIngestListener(store)).listen(port)`. The
 * route is matched on the raw request line, before the body is read, and the matched
 * route is what runs; notes have no author.
 */
export function createIngestListener(store: Store, options: IngestListenerOptions = {}): RequestListener {
  const basePath = (options.basePath ?? INGEST_BASE_PATH).replace(/\/+$/, '');
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_INGEST_BODY_BYTES;

  return (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    void (async () => {
      const match = matchIngestRoute(method, path, basePath);
      if (!match.ok) return refuseEarly(req, res, match.answer.status, match.answer.body);
      if (match.route.op !== 'health' && !isJsonContentType(req.headers['content-type'])) {
        return refuseEarly(req, res, 415, { error: { code: 'INVALID_INPUT', message: 'a tracking request must be sent as application/json' } });
      }
      let body: unknown;
      try {
        body = await readJson(req, maxBody);
      } catch (e) {
        if (e instanceof BodyTooLarge) return refuseEarly(req, res, 413, errorToWire(e.error).body);
        return send(res, errorToWire(e).status, errorToWire(e).body);
      }
      let answer;
      try {
        answer = await executeIngestCall(store, parseIngestCall(match.route, body));
      } catch (e) {
        answer = ingestErrorAnswer(e, { method, path }, options);
      }
      send(res, answer.status, answer.body);
    })().catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, errorToWire(e).body);
      else res.destroy();
    });
  };
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...extra });
  res.end(text);
}

/**
 * Answers without keeping (the rest of) the body: what still arrives is discarded until
 * the connection closes after the answer, so it is never buffered nor read as a request.
 */
function refuseEarly(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  send(res, status, body, req.readableEnded ? {} : { connection: 'close' });
}

class BodyTooLarge extends Error {
  constructor(readonly error: ValidationError) {
    super(error.message);
  }
}

function tooLarge(maxBytes: number): BodyTooLarge {
  return new BodyTooLarge(new ValidationError(`request body exceeds ${maxBytes} bytes; send smaller metric batches`));
}

/** The JSON body, read chunk by chunk and refused as soon as it passes `maxBytes` (declared or not). */
async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const bytes = await readNodeBody(req, maxBytes, () => tooLarge(maxBytes));
  return parseOptionalJsonBody(bytes, (detail) => new ValidationError(`request body is not valid JSON (${detail})`));
}
