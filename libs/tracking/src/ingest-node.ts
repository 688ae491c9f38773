import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Store } from '@cairn/store';
import { ValidationError } from '@cairn/schema';
import { INGEST_BASE_PATH, createIngestHandler, errorToWire, type IngestHandler, type IngestHandlerOptions } from './ingest-protocol.ts';

export interface IngestListenerOptions extends IngestHandlerOptions {
  /** Where the endpoint is mounted (default `INGEST_BASE_PATH`); other paths answer 404. */
  basePath?: string;
  /** Largest request body accepted (default 16 MiB). */
  maxBodyBytes?: number;
}

/**
 * A `node:http` request listener serving the ingest protocol:
 * `http.createServer(createIngestListener(store)).listen(port)`. A larger server can
 * mount `createIngestHandler` itself instead.
 */
export function createIngestListener(storeOrHandler: Store | IngestHandler, options: IngestListenerOptions = {}): RequestListener {
  const handler = typeof storeOrHandler === 'function' ? storeOrHandler : createIngestHandler(storeOrHandler, options);
  const basePath = (options.basePath ?? INGEST_BASE_PATH).replace(/\/+$/, '');
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;

  return (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path !== basePath && !path.startsWith(`${basePath}/`)) {
        return send(res, 404, { error: { code: 'NOT_FOUND', message: `no Cairn endpoint at ${path}`, details: { kind: 'route', id: path } } });
      }
      let body: unknown;
      try {
        body = await readJson(req, maxBody);
      } catch (e) {
        const { status, body: errBody } = errorToWire(e);
        return send(res, (e as { status?: number }).status ?? status, errBody);
      }
      const answer = await handler(req.method ?? 'GET', path.slice(basePath.length) || '/', body);
      send(res, answer.status, answer.body);
    })().catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, errorToWire(e).body);
      else res.destroy();
    });
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      const e = new ValidationError(`request body exceeds ${maxBytes} bytes; send smaller metric batches`);
      (e as ValidationError & { status: number }).status = 413;
      throw e;
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`request body is not valid JSON (${(e as Error).message})`);
  }
}
