import http from 'node:http';
import fc from 'fast-check';
import { RUN_ACTIONS } from '@cairn/tracking';

/**
 * Random HTTP requests against the portal's surfaces (tRPC, ingest, better-auth, and
 * whatever else a path may say), for fuzz tests of the API handler and of `next start`.
 * Paths are built from real route pieces and hostile ones (dot segments, encoded
 * slashes, malformed and overlong escapes, doubled prefixes), sent raw so no client
 * normalises them; headers and bodies are random, occasionally over a size limit.
 */
export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Bytes of body; `size` repeats a filler instead (for bodies past a limit). */
  body?: string;
  size?: number;
}

const UUID = '0190aaaa-0000-7000-8000-0000000000aa';
const PROCEDURES = ['system.info', 'projects.list', 'runs.search', 'runs.get', 'runs.addNote', 'runs.setTags', 'runs.compare', 'runs.series', 'experiments.list', 'experiments.addNote', 'queues.events', 'queues.submit', 'teams.create', 'tokens.create', 'tokens.revoke', 'lineage.graph', 'nope.nothing'];
const AUTH = ['sign-up/email', 'sign-in/email', 'sign-out', 'get-session', 'organization/create', 'list-sessions', 'ok', 'error', 'reset-password', ''];
const HOSTILE = ['..', '.', '%2e%2e', '%2F', '%2f..%2f', '%ZZ', '%', '%E0%A4%A', '%C0%AE', '%00', '%FF%FE', '%25', '%u002e', 'api', 'ingest', 'v1', '', '~', '*', ';', 'a'.repeat(3000)];
// API prefixes, and pages with dynamic segments (which Next.js decodes itself).
const PREFIXES = ['/api/trpc/', '/api/ingest/v1/', '/api/ingest/v1/runs/', '/api/auth/', '/api/', '/', '/api/ingest/v1/api/ingest/v1/', '/API/TRPC/', '//api/trpc/', '/runs/', '/experiments/', '/models/'];

const asciiChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const asciiString = (maxLength: number) => fc.array(asciiChar, { maxLength }).map((a) => a.join(''));

const segment = fc.oneof(
  fc.constantFrom(...PROCEDURES, ...AUTH, ...RUN_ACTIONS, 'runs', 'health', UUID, UUID.toUpperCase(), `${PROCEDURES[0]},${PROCEDURES[1]}`),
  fc.constantFrom(...HOSTILE),
  fc.webSegment(),
  asciiString(12).map((s) => s.replaceAll('?', '').replaceAll('#', '')),
);

const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?batch=1&input=%7B%7D', '?input=%ZZ', '?input={"json":{"id":"x"}}', '?batch=1&input=[', '?input=' + 'x'.repeat(5000)),
  fc.webQueryParameters().map((q) => (q ? `?${q}` : '')),
);

const path = fc.tuple(fc.constantFrom(...PREFIXES), fc.array(segment, { minLength: 0, maxLength: 5 }), fc.boolean(), query).map(([prefix, segs, slash, q]) => `${prefix}${segs.join('/')}${slash ? '/' : ''}${q}`.replaceAll('#', ''));

const header = (name: string, values: string[]) => fc.option(fc.oneof(fc.constantFrom(...values), asciiString(40)).map((v) => [name, v] as const), { nil: undefined });

const headers = fc
  .tuple(
    header('content-type', ['application/json', 'application/json; charset=utf-8', 'text/plain', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/x-www-form-urlencoded', 'APPLICATION/JSON']),
    header('authorization', ['Bearer cairn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Bearer ', 'Bearer cairn_', 'Basic dXNlcjpwYXNz', 'bearer x y']),
    header('cookie', ['cairn.session_token=abc.def', '__Secure-cairn.session_token=x', 'cairn.session_token=', '=;;=', 'a=b; c']),
    header('origin', ['null', 'http://evil.example', 'http://127.0.0.1', 'https://127.0.0.1']),
    header('host', ['evil.example', '127.0.0.1:1', '[::1]:99999', 'localhost', '', 'a/b']),
    header('x-forwarded-proto', ['https', 'http', 'ftp', 'https,http']),
    header('accept', ['text/event-stream', 'application/json', '*/*']),
  )
  .map((pairs) => Object.fromEntries(pairs.filter((p) => p !== undefined)) as Record<string, string>);

const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.constantFrom(
    JSON.stringify({ json: { runId: UUID, body: 'note' } }),
    JSON.stringify({ 0: { json: { name: 'x' } } }),
    JSON.stringify({ experiment: 'fuzz', project: 'default' }),
    JSON.stringify({ experimentId: UUID }),
    JSON.stringify({ tags: { gate: 'passed' } }),
    JSON.stringify({ body: 'n', author: 'mallory' }),
    JSON.stringify({ batchId: 'b', points: [{ key: 'loss', value: 'NaN', step: 1 }] }),
    JSON.stringify({ email: 'a@b.c', password: 'pw', name: 'A' }),
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '[',
    '',
  ),
  asciiString(200),
);

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    // Not TRACE, CONNECT or TRACK: the fetch standard forbids them, so no fetch-style server (Next.js included) can take them.
    fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
    path,
    headers,
    fc.oneof({ weight: 40, arbitrary: jsonBody.map((b) => ({ body: b })) }, { weight: 1, arbitrary: fc.constantFrom(64 * 1024 + 1, 1024 * 1024, 9 * 1024 * 1024).map((size) => ({ size })) }),
  )
  .map(([method, p, h, b]) => ({ method, path: p, headers: h, ...(method === 'GET' || method === 'HEAD' ? {} : b) }));

/** Sends one request as written; resolves with its status, or 0 when the connection was cut before an answer. */
export function send(port: number, r: FuzzRequest, timeoutMs = 20_000): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: { status: number; error?: string }) => {
      if (!done) {
        done = true;
        resolve(v);
      }
    };
    let req: http.ClientRequest;
    try {
      // Framed explicitly: node:http sends a DELETE or OPTIONS body unframed otherwise. A
      // connection each: one the server closed after an early answer is never reused.
      const framing: Record<string, string> = r.size ? { 'transfer-encoding': 'chunked' } : r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {};
      req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: { ...r.headers, ...framing }, timeout: timeoutMs, agent: false }, (res) => {
        res.resume();
        res.on('end', () => finish({ status: res.statusCode! }));
        res.on('error', () => finish({ status: res.statusCode! }));
      });
    } catch (e) {
      // The client refused to send it (an invalid header for node:http): not a request at all.
      return finish({ status: -1, error: (e as Error).message });
    }
    req.on('timeout', () => {
      req.destroy();
      finish({ status: 0, error: `no answer within ${timeoutMs} ms` });
    });
    req.on('error', (e) => finish({ status: 0, error: e.message }));
    if (r.size) {
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < r.size! && !done) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    } else req.end(r.body);
  });
}

/** Runs `requests` with `concurrency` at a time; collects what `check` says is wrong. */
export async function runAll(requests: FuzzRequest[], concurrency: number, one: (r: FuzzRequest) => Promise<string | null>): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        const problem = await one(r);
        if (problem) problems.push(problem);
      }
    }),
  );
  return problems;
}

export function describeRequest(r: FuzzRequest): string {
  const body = r.size ? `<${r.size} bytes>` : r.body === undefined ? '' : JSON.stringify(r.body.slice(0, 120));
  return `${r.method} ${r.path.slice(0, 200)} ${JSON.stringify(r.headers)} ${body}`;
}

/**
 * Streams up to `total` bytes of body, chunked, as fast as the server takes them, until
 * it answers. Returns its status and how much was sent by then. A server that refuses a
 * body early closes the connection under the rest; TCP then resets it, and a client still
 * writing may see the reset (EPIPE, ECONNRESET) before it has read the answer already on
 * its way: that is `status: 'reset'` (the server stopped the body), never a rejection.
 */
export function pushBody(port: number, path: string, total: number, headers: Record<string, string> = {}): Promise<{ status: number | 'reset'; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      answered = true;
      res.resume();
      resolve({ status: res.statusCode!, sent });
      res.on('end', () => req.destroy());
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET') resolve({ status: 'reset', sent });
      else reject(e);
    });
    const chunk = Buffer.alloc(Math.min(1024 * 1024, total), 'a');
    chunk[0] = '"'.charCodeAt(0);
    const write = () => {
      while (!answered && sent < total) {
        const piece = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', write);
      }
      if (!answered) req.end();
    };
    write();
  });
}

/**
 * One request with the Host header a browser would send for `host` (fetch cannot set
 * Host), to 127.0.0.1:`port`: what a DNS-rebinding page makes the victim's browser send.
 * `null`: no Host header at all.
 */
export function requestAs(port: number, host: string | null, r: { method?: string; path: string; json?: unknown }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = r.json === undefined ? undefined : JSON.stringify(r.json);
    const headers: Record<string, string> = { ...(host !== null ? { host } : {}), ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) };
    const req = http.request({ host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers, agent: false, setHost: host !== null }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
