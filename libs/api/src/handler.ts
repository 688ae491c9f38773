import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { Store } from '@cairn/store';
import { INGEST_BASE_PATH } from '@cairn/tracking';
import { TRPCError } from '@trpc/server';
import type { Viewer } from './access.ts';
import { AUTH_BASE_PATH, type CairnAuth } from './auth/create-auth.ts';
import { ANONYMOUS, credentialsOf } from './auth/viewer.ts';
import { BodyTooLargeError, MAX_AUTH_BODY_BYTES, MAX_INGEST_BODY_BYTES, MAX_TRPC_BODY_BYTES, withBodyWithin } from './body-limit.ts';
import { json, tooLarge } from './responses.ts';
import { refusedHost } from './host-check.ts';
import { createContext, type BlobReader } from './context.ts';
import { serveIngest } from './ingest-http.ts';
import type { ApiQueues } from './queues.ts';
import { appRouter } from './router.ts';

/** Where tRPC is served; the tracking client's HTTP transport posts to INGEST_BASE_PATH. */
export const TRPC_ENDPOINT = '/api/trpc';
export { INGEST_BASE_PATH, AUTH_BASE_PATH };

export interface ApiHandlerOptions {
  store: Store;
  queues?: ApiQueues | null;
  blobs?: BlobReader;
  /** The blob store folder (CAIRN_BLOBS, else CAIRN_HOME/blobs, as the app resolved it) when `blobs` is absent. */
  blobRoot?: string;
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
  /** Largest tRPC request body (default 8 MiB: the largest note, escaped; see body-limit.ts). */
  maxTrpcBytes?: number;
  /** Unexpected (non-Cairn) errors, for the server's log. */
  onError?: (error: unknown, where: { path: string }) => void;
  /**
   * Host names answered besides localhost, *.localhost and IP addresses (entries of
   * parseAllowedHosts: `name`, `.domain`, `*`); any other Host is refused 403 before
   * anything is read, against DNS rebinding. Absent: [] in local mode (no `auth`, no
   * `viewer`), no check in team mode, where a rebound page has no session. null: no check.
   */
  allowedHosts?: readonly string[] | null;
}

function decodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * One fetch-style handler for the portal's server (a Next.js route handler exports it as
 * GET and POST) or any other: tRPC under /api/trpc, the tracking ingest protocol under
 * /api/ingest/v1 (matched, checked and executed as one parsed route: ingest-http.ts),
 * and better-auth under /api/auth in team mode. In local mode a request whose Host does
 * not name this machine or an allowed name is refused first (host-check.ts); every body
 * is read within its limit (body-limit.ts) before anything else, sign-in included.
 */
export function createApiHandler(options: ApiHandlerOptions): (req: Request) => Promise<Response> {
  const auth = options.auth ?? null;
  const maxTrpc = options.maxTrpcBytes ?? MAX_TRPC_BODY_BYTES;
  const ingest = { ...options, auth, maxBytes: options.maxIngestBytes ?? MAX_INGEST_BODY_BYTES };
  const allowedHosts = options.allowedHosts !== undefined ? options.allowedHosts : auth || options.viewer ? null : [];

  async function viewerOf(req: Request): Promise<Viewer | undefined> {
    if (options.viewer) return options.viewer(req);
    if (!auth) return undefined;
    const c = await credentialsOf(auth, options.store, req);
    if (c.kind === 'invalid-token') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'the API token is not valid (unknown or revoked): create one in the portal (tokens.create)' });
    return c.kind === 'none' ? ANONYMOUS : c.viewer;
  }

  async function serveTrpc(original: Request, path: string): Promise<Response> {
    const req = await withBodyWithin(original, maxTrpc, 'a request to the API is at most a note of 1 MiB');
    return fetchRequestHandler({
      endpoint: TRPC_ENDPOINT,
      req,
      router: appRouter,
      createContext: async () => createContext({ store: options.store, queues: options.queues, blobs: options.blobs, blobRoot: options.blobRoot, auth, viewer: await viewerOf(req) }),
      onError: ({ error, path: procedure }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') options.onError?.(error.cause ?? error, { path: procedure ?? path });
      },
    });
  }

  const under = (path: string, base: string) => path === base || path.startsWith(`${base}/`);

  return async (req) => {
    const path = new URL(req.url).pathname;
    const refused = refusedHost(req, path, allowedHosts, TRPC_ENDPOINT);
    if (refused) return refused;
    // Procedure names and routes are decoded downstream; a malformed escape is the client's error, not the server's.
    if (!decodable(path)) return json(400, { error: { code: 'INVALID_INPUT', message: 'the request path has a malformed percent-escape' } });
    try {
      if (auth && under(path, AUTH_BASE_PATH)) return await auth.handler(await withBodyWithin(req, MAX_AUTH_BODY_BYTES, 'sign-in requests are small'));
      if (under(path, INGEST_BASE_PATH)) return await serveIngest(ingest, req, path);
      if (under(path, TRPC_ENDPOINT)) return await serveTrpc(req, path);
    } catch (e) {
      if (e instanceof BodyTooLargeError) return tooLarge(e);
      throw e;
    }
    return json(404, { error: { code: 'NOT_FOUND', message: `no Cairn endpoint at ${path.slice(0, 200)}`, details: { kind: 'route', id: path.slice(0, 200) } } });
  };
}
