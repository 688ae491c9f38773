import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { ValidationError } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { INGEST_BASE_PATH, createIngestHandler, errorToWire } from '@cairn/tracking';
import { TRPCError } from '@trpc/server';
import type { Viewer } from './access.ts';
import { AUTH_BASE_PATH, type CairnAuth } from './auth/create-auth.ts';
import { checkIngest } from './auth/ingest-access.ts';
import { ANONYMOUS, credentialsOf } from './auth/viewer.ts';
import { createContext, type BlobReader } from './context.ts';
import type { ApiQueues } from './queues.ts';
import { appRouter } from './router.ts';

/** Where tRPC is served; the tracking client's HTTP transport posts to INGEST_BASE_PATH. */
export const TRPC_ENDPOINT = '/api/trpc';
export { INGEST_BASE_PATH, AUTH_BASE_PATH };

const DEFAULT_MAX_INGEST_BYTES = 16 * 1024 * 1024;

export interface ApiHandlerOptions {
  store: Store;
  queues?: ApiQueues | null;
  blobs?: BlobReader;
  /**
   * Team mode (createAuth): better-auth answers under /api/auth, and each request's
   * viewer comes from its session cookie or `Authorization: Bearer <API token>`
   * (nobody signed in: no roles, so nothing project-scoped is found; a revoked or
   * unknown token: UNAUTHORIZED). Ingest needs a token or session with `editor` on the
   * project it writes to. `viewer` and `authorizeIngest`, when given, still win.
   */
  auth?: CairnAuth | null;
  /**
   * Who is asking (team mode): throw a TRPCError UNAUTHORIZED to refuse. Absent: from
   * `auth` when given, else local mode, everything allowed.
   */
  viewer?: (req: Request) => Viewer | Promise<Viewer>;
  /**
   * Whether a tracking client may write through the ingest endpoint. Absent: allowed in
   * local mode; with `auth`, a valid token or session and the project's editor role;
   * refused (401) when only `viewer` is set.
   */
  authorizeIngest?: (req: Request) => boolean | Promise<boolean>;
  /** Largest ingest request body (default 16 MiB, as the tracking lib's listener). */
  maxIngestBytes?: number;
  /** Unexpected (non-Cairn) errors, for the server's log. */
  onError?: (error: unknown, where: { path: string }) => void;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body ?? null), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

/**
 * One fetch-style handler for the portal's server (a Next.js route handler exports it as
 * GET and POST) or any other: tRPC under /api/trpc, and the tracking ingest protocol
 * under /api/ingest/v1, served by the tracking lib's own handler so the protocol has one
 * implementation.
 */
export function createApiHandler(options: ApiHandlerOptions): (req: Request) => Promise<Response> {
  const ingest = createIngestHandler(options.store, { onInternalError: (e, r) => options.onError?.(e, { path: r.path }) });
  const maxBytes = options.maxIngestBytes ?? DEFAULT_MAX_INGEST_BYTES;
  const auth = options.auth ?? null;
  const unauthorized = (why: string) => json(401, { error: { code: 'INVALID_INPUT', message: `this Cairn server refused the tracking request: ${why}` } });

  async function viewerOf(req: Request): Promise<Viewer | undefined> {
    if (options.viewer) return options.viewer(req);
    if (!auth) return undefined;
    const c = await credentialsOf(auth, options.store, req);
    if (c.kind === 'invalid-token') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'the API token is not valid (unknown or revoked): create one in the portal (tokens.create)' });
    return c.kind === 'none' ? ANONYMOUS : c.viewer;
  }

  async function serveIngest(req: Request, path: string): Promise<Response> {
    // The team-mode viewer, when auth decides (no authorizeIngest); checked per project once the body is read.
    let viewer: Viewer | null = null;
    if (path !== '/health') {
      if (options.authorizeIngest) {
        if (!(await options.authorizeIngest(req))) return unauthorized('it needs a token (CAIRN_TOKEN)');
      } else if (auth && !options.viewer) {
        const c = await credentialsOf(auth, options.store, req);
        if (c.kind === 'invalid-token') return unauthorized('its token is not valid (unknown or revoked); set CAIRN_TOKEN to a live one');
        if (c.kind === 'none') return unauthorized('it needs a token (CAIRN_TOKEN)');
        viewer = c.viewer;
      } else if (options.viewer) {
        return unauthorized('it needs a token (CAIRN_TOKEN)');
      }
    }
    let body: unknown;
    try {
      body = await readJson(req, maxBytes);
      if (viewer) await checkIngest(options.store, viewer, path, body);
    } catch (e) {
      const { status, body: err } = errorToWire(e);
      return json((e as { status?: number }).status ?? status, err);
    }
    const answer = await ingest(req.method, path, body);
    return json(answer.status, answer.body);
  }

  return async (req) => {
    const path = new URL(req.url).pathname;
    if (auth && (path === AUTH_BASE_PATH || path.startsWith(`${AUTH_BASE_PATH}/`))) return auth.handler(req);
    if (path === INGEST_BASE_PATH || path.startsWith(`${INGEST_BASE_PATH}/`)) return serveIngest(req, path.slice(INGEST_BASE_PATH.length) || '/');
    if (path === TRPC_ENDPOINT || path.startsWith(`${TRPC_ENDPOINT}/`)) {
      return fetchRequestHandler({
        endpoint: TRPC_ENDPOINT,
        req,
        router: appRouter,
        createContext: async () => createContext({ store: options.store, queues: options.queues, blobs: options.blobs, auth, viewer: await viewerOf(req) }),
        onError: ({ error, path: procedure }) => {
          if (error.code === 'INTERNAL_SERVER_ERROR') options.onError?.(error.cause ?? error, { path: procedure ?? path });
        },
      });
    }
    return json(404, { error: { code: 'NOT_FOUND', message: `no Cairn endpoint at ${path}`, details: { kind: 'route', id: path } } });
  };
}

async function readJson(req: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () => Object.assign(new ValidationError(`request body exceeds ${maxBytes} bytes; send smaller metric batches`), { status: 413 });
  if (Number(req.headers.get('content-length') ?? 0) > maxBytes) throw tooLarge();
  if (!req.body) return undefined;
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.byteLength > maxBytes) throw tooLarge();
  if (bytes.byteLength === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ValidationError(`request body is not valid JSON (${(e as Error).message})`);
  }
}
