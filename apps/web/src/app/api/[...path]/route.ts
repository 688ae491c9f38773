/**
 * The API: tRPC under /api/trpc and the tracking client's ingest protocol under
 * /api/ingest/v1, both served by @cairn/api's fetch handler over the process's
 * store and queues (src/server/deps.ts). In local mode it answers only requests
 * addressed to this machine or to CAIRN_ALLOWED_HOSTS (DNS rebinding, see libs/api).
 */
import { getDeps } from '../../../server/deps.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

type Handler = (req: Request) => Promise<Response>;
const slot = globalThis as typeof globalThis & { __cairnWebHandler?: Promise<Handler> };

function handler(): Promise<Handler> {
  slot.__cairnWebHandler ??= (async () => {
    const [{ createApiHandler }, deps] = await Promise.all([import('@cairn/api'), getDeps()]);
    const { access } = deps;
    return createApiHandler({ store: deps.store, queues: deps.queues, blobRoot: deps.blobRoot, auth: access.auth, allowedHosts: access.mode === 'local' ? access.allowedHosts : null });
  })().catch((e: unknown) => {
    slot.__cairnWebHandler = undefined;
    throw e;
  });
  return slot.__cairnWebHandler;
}

async function serve(req: Request): Promise<Response> {
  let h: Handler;
  try {
    h = await handler();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`[cairn web] the store could not be opened: ${message}`);
    return unavailable(req, `the Cairn store could not be opened: ${message}`);
  }
  return h(req);
}

export const GET = serve;
export const POST = serve;
export const PUT = serve;
export const PATCH = serve;
export const DELETE = serve;
export const OPTIONS = serve;

/**
 * The store is not there: answer in tRPC's own error shape (superjson-wrapped, one
 * entry per call of a batch), so the portal shows the reason instead of a parse error.
 */
function unavailable(req: Request, message: string): Response {
  const url = new URL(req.url);
  const m = /\/api\/trpc\/(.+)$/.exec(url.pathname);
  if (!m) return Response.json({ error: { message, code: 'STORE_UNAVAILABLE' } }, { status: 503 });
  const paths = decodedOrRaw(m[1]!).split(',');
  const error = (path: string) => ({
    error: { json: { message, code: -32603, data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 503, path } } },
  });
  const body = url.searchParams.get('batch') === '1' ? paths.map(error) : error(paths[0]!);
  return Response.json(body, { status: 503 });
}

/** A malformed escape in the procedure path is not worth a second error: show it as sent. */
function decodedOrRaw(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
