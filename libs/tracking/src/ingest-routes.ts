/**
 * The ingest protocol's routes, matched once per request against an explicit list.
 * A server matches a request's path into an `IngestRoute` before it reads anything
 * else, checks access on the `IngestCall` (the route with its validated body), and
 * executes that very value, so what is authorised and what is written cannot differ.
 *
 * Matching is exact on the raw path: the mount point once, then `health`, `runs` or
 * `runs/<uuid>/<action>`, lower case, one slash between segments. Anything else is
 * not a route (404): a doubled mount point, dot segments, `%2F`, a trailing or doubled
 * slash, another case, an extra segment. A malformed percent-escape (`%ZZ`) is a 400.
 * (Servers behind a WHATWG URL parser, such as a fetch handler, see dot segments
 * already resolved: the request then is the route they resolve to, checked as such.)
 */
import type { z } from 'zod';
import { ValidationError, formatZodError, uuidSchema } from '@cairn/schema';
import {
  INGEST_BASE_PATH,
  addNoteRequestSchema,
  createRunRequestSchema,
  endRunRequestSchema,
  heartbeatRequestSchema,
  logArtifactRequestSchema,
  logMetricsRequestSchema,
  logParamsRequestSchema,
  setTagsRequestSchema,
  startRunRequestSchema,
  type IngestResponse,
} from './ingest-protocol.ts';

export const RUN_ACTIONS = ['start', 'metrics', 'params', 'tags', 'notes', 'artifacts', 'heartbeat', 'end'] as const;
export type RunAction = (typeof RUN_ACTIONS)[number];

export type IngestRoute = { op: 'health' } | { op: 'createRun' } | { op: 'runWrite'; runId: string; action: RunAction };

/** A route, or the answer for a request that is not one. */
export type RouteMatch = { ok: true; route: IngestRoute } | { ok: false; answer: IngestResponse };

const RUN_ACTION_SET: ReadonlySet<string> = new Set(RUN_ACTIONS);
const MALFORMED_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/**
 * The route of a request: `method`, and `path` as the request line has it (a query is
 * ignored) under `basePath` (default INGEST_BASE_PATH; '' for a path already relative
 * to the mount point). Never throws.
 */
export function matchIngestRoute(method: string, path: string, basePath: string = INGEST_BASE_PATH): RouteMatch {
  const pathname = path.split('?', 1)[0]!;
  const shown = pathname.slice(0, 200);
  if (MALFORMED_ESCAPE.test(pathname)) return refuse(400, 'INVALID_INPUT', `malformed percent-escape in the path ${JSON.stringify(shown)}`);
  if (!pathname.startsWith(`${basePath}/`)) return noRoute(method, shown);
  const segments = pathname.slice(basePath.length + 1).split('/');
  const verb = method.toUpperCase();

  if (segments.length === 1 && segments[0] === 'health') {
    return verb === 'GET' ? { ok: true, route: { op: 'health' } } : methodNotAllowed(verb, shown, 'GET');
  }
  if (segments.length === 1 && segments[0] === 'runs') {
    return verb === 'POST' ? { ok: true, route: { op: 'createRun' } } : methodNotAllowed(verb, shown, 'POST');
  }
  if (segments.length === 3 && segments[0] === 'runs' && RUN_ACTION_SET.has(segments[2]!)) {
    if (verb !== 'POST') return methodNotAllowed(verb, shown, 'POST');
    // Raw, not decoded: a UUID needs no escapes, and an id must have one spelling.
    const id = segments[1]!;
    if (!uuidSchema.safeParse(id).success) return refuse(400, 'INVALID_INPUT', `invalid run id '${id.slice(0, 80)}': expected a UUID`);
    return { ok: true, route: { op: 'runWrite', runId: id.toLowerCase(), action: segments[2] as RunAction } };
  }
  return noRoute(method, shown);
}

/**
 * Whether a write's content type is JSON, as ingest writes must be: the tracking client
 * sends it, and no cross-site form can (a page needs a CORS preflight, which Cairn never
 * grants), so a page in a browser cannot write with its user's cookies, nor to a local
 * server that has no accounts at all.
 */
export { isJsonContentType } from '@cairn/http';

type Out<S extends z.ZodType> = z.output<S>;

interface RunBodies {
  start: Out<typeof startRunRequestSchema>;
  metrics: Out<typeof logMetricsRequestSchema>;
  params: Out<typeof logParamsRequestSchema>;
  tags: Out<typeof setTagsRequestSchema>;
  notes: Out<typeof addNoteRequestSchema>;
  artifacts: Out<typeof logArtifactRequestSchema>;
  heartbeat: Out<typeof heartbeatRequestSchema>;
  end: Out<typeof endRunRequestSchema>;
}

export type CreateRunCall = { op: 'createRun'; body: Out<typeof createRunRequestSchema> };
export type RunWriteCall = { [A in RunAction]: { op: 'runWrite'; runId: string; action: A; body: RunBodies[A] } }[RunAction];

/** A matched route with its validated body: what an access check looks at and a handler executes. */
export type IngestCall = { op: 'health' } | CreateRunCall | RunWriteCall;

const RUN_SCHEMAS: { [A in RunAction]: { schema: z.ZodType<RunBodies[A]>; what: string; empty?: unknown } } = {
  start: { schema: startRunRequestSchema, what: 'start request', empty: {} },
  metrics: { schema: logMetricsRequestSchema, what: 'metrics batch' },
  params: { schema: logParamsRequestSchema, what: 'params' },
  tags: { schema: setTagsRequestSchema, what: 'tags' },
  notes: { schema: addNoteRequestSchema, what: 'note' },
  artifacts: { schema: logArtifactRequestSchema, what: 'artifact' },
  heartbeat: { schema: heartbeatRequestSchema, what: 'heartbeat', empty: undefined },
  end: { schema: endRunRequestSchema, what: 'end request' },
};

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${formatZodError(r.error)}`);
  return r.data;
}

/** The call for a route and its JSON body (undefined when empty); a ValidationError names what is wrong. */
export function parseIngestCall(route: IngestRoute, body: unknown): IngestCall {
  switch (route.op) {
    case 'health':
      return route;
    case 'createRun':
      return { op: 'createRun', body: parse(createRunRequestSchema, body, 'create-run request') };
    case 'runWrite': {
      const entry = RUN_SCHEMAS[route.action];
      // start and heartbeat may come without a body.
      const value = (body === undefined || body === null) && 'empty' in entry ? entry.empty : body;
      return { ...route, body: parse(entry.schema as z.ZodType<unknown>, value, entry.what) } as RunWriteCall;
    }
  }
}

function refuse(status: 400 | 404 | 405, code: 'INVALID_INPUT' | 'NOT_FOUND', message: string, details?: Record<string, unknown>): RouteMatch {
  return { ok: false, answer: { status, body: { error: { code, message, ...(details ? { details } : {}) } } } };
}

function noRoute(method: string, path: string): RouteMatch {
  return refuse(404, 'NOT_FOUND', `no ingest route ${method} ${path}`, { kind: 'route', id: `${method} ${path}` });
}

function methodNotAllowed(method: string, path: string, allowed: string): RouteMatch {
  return refuse(405, 'INVALID_INPUT', `${method} is not allowed on ${path}; use ${allowed}`);
}
