/**
 * A fetch `Request`'s body bytes (null without one), read until `limit` and no further:
 * a declared content-length over the limit, or a body that grows past it, is refused with
 * `tooLarge()` (each API keeps its own 413). The rest of an oversized body is left unread
 * (not cancelled: cancelling a node-backed stream destroys the socket before the 413 can
 * be sent); answer with `connection: close`.
 */
export async function readRequestBody(req: Request, limit: number, tooLarge: () => Error): Promise<Uint8Array<ArrayBuffer> | null> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (!req.body) return null;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

/** The same request with its body read within `limit` (GET and HEAD have none). */
export async function withRequestBody(req: Request, limit: number, tooLarge: () => Error, url: string = req.url): Promise<Request> {
  if (req.method === 'GET' || req.method === 'HEAD') return url === req.url ? req : new Request(url, { method: req.method, headers: req.headers, signal: req.signal });
  const body = await readRequestBody(req, limit, tooLarge);
  const headers = new Headers(req.headers);
  headers.delete('transfer-encoding');
  if (body) headers.set('content-length', String(body.byteLength));
  return new Request(url, { method: req.method, headers, body, signal: req.signal });
}
