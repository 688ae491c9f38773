/**
 * The ingest protocol: JSON over HTTP between the tracking client (`HttpTransport`)
 * and a Cairn server. Mounted under `INGEST_BASE_PATH`; every route is a POST with a
 * JSON body (GET /health aside):
 *
 *   POST /runs                    CreateRunRequest   → 201 { run }
 *   POST /runs/:id/start          StartRunRequest    → 200 { run }
 *   POST /runs/:id/metrics        LogMetricsRequest  → 200 { batchId, inserted }
 *   POST /runs/:id/params         LogParamsRequest   → 200 { ok }
 *   POST /runs/:id/tags           SetTagsRequest     → 200 { ok }
 *   POST /runs/:id/notes          AddNoteRequest     → 201 { note }
 *   POST /runs/:id/artifacts      LogArtifactRequest → 201 { artifact }
 *   POST /runs/:id/heartbeat      {}                 → 200 { ok }
 *   POST /runs/:id/end            EndRunRequest      → 200 { run }
 *   GET  /health                                     → 200 { ok, protocol }
 *
 * Paths are matched exactly, once per request (ingest-routes.ts); the handler executes
 * the matched route (ingest-handler.ts). A note's author is whoever the server
 * authenticated, never a field of the request.
 *
 * Failures answer `{ error: { code, message, details? } }` with the status from
 * `httpStatusForCode`; `errorFromWire` turns that back into the same typed error the
 * store threw, so training code sees identical errors with either transport.
 *
 * Metrics batches are idempotency-friendly: a batch carries a client-made `batchId`
 * (the same on every retry of that batch) and each point's identity is
 * (run, key, step), which the store deduplicates, so re-sending is always safe.
 * JSON has no NaN or ±Infinity, so those values travel as the strings
 * "NaN", "Infinity" and "-Infinity".
 */
import { z } from 'zod';
import {
  CairnError,
  ConflictError,
  FilterSyntaxError,
  InvalidStateError,
  NotFoundError,
  ParamConflictError,
  StoreDamagedError,
  StoreLockedError,
  StoreUnreachableError,
  ValidationError,
  formatZodError,
  uuidSchema,
  type CairnErrorCode,
  type RunStatus,
} from '@cairn/schema';
import type { Run } from '@cairn/store';

export const INGEST_BASE_PATH = '/api/ingest/v1';
export const INGEST_PROTOCOL_VERSION = 1;
/** Most points one metrics request may carry. */
export const MAX_INGEST_BATCH_POINTS = 10_000;

// ---------------------------------------------------------------------------
// Request schemas
//
// They fix each request's shape and JSON types. The content rules (key syntax, name
// length, value sizes: the schemas of @cairn/schema) are the store's to enforce, so a
// bad value gets the very message it gets through DirectTransport.

const paramValue = z.union([z.string(), z.number(), z.boolean()]);

export const codeRefSchema = z.object({
  gitSha: z.string().nullable().optional(),
  gitDirty: z.boolean().nullable().optional(),
  codeHash: z.string().nullable().optional(),
});

/** Free-form, JSON-serialisable; see `RunEnvironment` in @cairn/schema for the known keys. */
export const environmentSchema = z.record(z.string(), z.unknown());

export const createRunRequestSchema = z
  .object({
    /** Project name; the default project when omitted. */
    project: z.string().optional(),
    /** Experiment name, created when it does not exist. */
    experiment: z.string().optional(),
    /** An existing experiment's id, instead of a name. */
    experimentId: uuidSchema.optional(),
    /** A readable random name when omitted. */
    name: z.string().optional(),
    /** 'running' (default) starts it now; 'queued' leaves it for a worker to start. */
    status: z.enum(['queued', 'running']).optional(),
    tier: z.string().nullable().optional(),
    parentRunId: uuidSchema.nullable().optional(),
    snapshotIds: z.array(z.string()).optional(),
    params: z.record(z.string(), paramValue).optional(),
    tags: z.record(z.string(), z.string()).optional(),
    code: codeRefSchema.optional(),
    environment: environmentSchema.optional(),
  })
  .refine((r) => (r.experiment === undefined) !== (r.experimentId === undefined), 'give experiment (a name) or experimentId, not both');
export type CreateRunRequest = z.input<typeof createRunRequestSchema>;

export const startRunRequestSchema = z.object({
  code: codeRefSchema.optional(),
  environment: environmentSchema.optional(),
});
export type StartRunRequest = z.input<typeof startRunRequestSchema>;

/** A metric value on the wire: a JSON number, or one of the non-finite values as a string. */
export const wireMetricValueSchema = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])], {
  message: 'metric value must be a number, or "NaN", "Infinity" or "-Infinity"',
});
export type WireMetricValue = z.infer<typeof wireMetricValueSchema>;

export const wireMetricPointSchema = z.object({
  key: z.string(),
  value: wireMetricValueSchema,
  /** A whole number ≥ 0; (run, key, step) is the point's identity. */
  step: z.number(),
  /** Milliseconds since the epoch; the server's clock when omitted. */
  wallMs: z.number().optional(),
});
export type WireMetricPoint = z.infer<typeof wireMetricPointSchema>;

export const logMetricsRequestSchema = z.object({
  /** Chosen by the client, unchanged on retries of the same batch. */
  batchId: z.string().min(1).max(100),
  points: z.array(wireMetricPointSchema).max(MAX_INGEST_BATCH_POINTS),
});
export type LogMetricsRequest = z.infer<typeof logMetricsRequestSchema>;

export const logParamsRequestSchema = z.object({ params: z.record(z.string(), paramValue) });
export type LogParamsRequest = z.input<typeof logParamsRequestSchema>;

export const setTagsRequestSchema = z.object({ tags: z.record(z.string(), z.string()) });
export type SetTagsRequest = z.input<typeof setTagsRequestSchema>;

/**
 * No author: the server records who sent the note (the token's or session's user in team
 * mode), never a name the client chose. An `author` from an older client is ignored.
 */
export const addNoteRequestSchema = z.object({
  /** Markdown. */
  body: z.string(),
});
export type AddNoteRequest = z.input<typeof addNoteRequestSchema>;

export const logArtifactRequestSchema = z.object({
  path: z.string(),
  /** Lowercase hex content hash. */
  hash: z.string(),
  size: z.number(),
  mediaType: z.string().optional(),
});
export type LogArtifactRequest = z.input<typeof logArtifactRequestSchema>;

export const heartbeatRequestSchema = z.object({}).optional();

export const endRunRequestSchema = z.object({
  status: z.enum(['finished', 'failed', 'abandoned', 'cancelled']),
  reason: z.string().nullable().optional(),
});
export type EndRunRequest = z.input<typeof endRunRequestSchema>;

// ---------------------------------------------------------------------------
// Response shapes

/** What the client learns about a run it created, started or ended. */
export interface RunInfo {
  id: string;
  experimentId: string;
  name: string;
  status: RunStatus;
  statusReason: string | null;
}

export const runInfoSchema = z.object({
  id: z.string(),
  experimentId: z.string(),
  name: z.string(),
  status: z.enum(['queued', 'running', 'finished', 'failed', 'abandoned', 'cancelled']),
  statusReason: z.string().nullable(),
});

export function toRunInfo(run: Run): RunInfo {
  return { id: run.id, experimentId: run.experimentId, name: run.name, status: run.status, statusReason: run.statusReason };
}

export interface WireError {
  code: CairnErrorCode | 'INTERNAL';
  message: string;
  details?: Record<string, unknown>;
}

export interface IngestResponse {
  status: number;
  body: unknown;
}

// ---------------------------------------------------------------------------
// Metric values

export function encodeMetricValue(v: number): WireMetricValue {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? 'Infinity' : '-Infinity';
}

export function decodeMetricValue(v: WireMetricValue): number {
  if (typeof v === 'number') return v;
  return v === 'NaN' ? Number.NaN : v === 'Infinity' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

// ---------------------------------------------------------------------------
// Errors ↔ HTTP

export function httpStatusForCode(code: CairnErrorCode): number {
  switch (code) {
    case 'INVALID_INPUT':
    case 'FILTER_SYNTAX':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'PARAM_CONFLICT':
    case 'CONFLICT':
    case 'INVALID_STATE':
      return 409;
    case 'STORE_LOCKED':
    case 'STORE_DAMAGED':
    case 'STORE_UNREACHABLE':
      return 503;
    case 'PORTAL_FAILED':
      return 500;
  }
}

/** The HTTP answer for a thrown error; fields that rebuild the typed error go in `details`. */
export function errorToWire(e: unknown): { status: number; body: { error: WireError } } {
  if (e instanceof CairnError) {
    const error: WireError = { code: e.code, message: e.message };
    if (e instanceof NotFoundError) error.details = { kind: e.kind, id: e.id };
    else if (e instanceof ParamConflictError) error.details = { runId: e.runId, key: e.key, existing: e.existing, attempted: e.attempted };
    else if (e instanceof FilterSyntaxError) error.details = { detail: e.detail, column: e.column, input: e.input };
    return { status: httpStatusForCode(e.code), body: { error } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: `internal error in the Cairn server: ${e instanceof Error ? e.message : String(e)}` } } };
}

const CODES: ReadonlySet<string> = new Set<CairnErrorCode>([
  'INVALID_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'PARAM_CONFLICT',
  'INVALID_STATE',
  'FILTER_SYNTAX',
  'STORE_LOCKED',
  'STORE_DAMAGED',
  'STORE_UNREACHABLE',
  'PORTAL_FAILED',
]);

/**
 * The typed error behind an HTTP failure: the same class, code and message the store
 * threw on the server. `where` names the server in messages about answers that are
 * not Cairn errors (a proxy's 502, a wrong URL's 404).
 */
export function errorFromWire(status: number, body: unknown, where: string): Error {
  const wire = (body as { error?: Partial<WireError> } | undefined)?.error;
  if (wire && typeof wire.code === 'string' && typeof wire.message === 'string') {
    const { code, message } = wire;
    const d = (wire.details ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof d[k] === 'string' ? (d[k] as string) : undefined);
    let e: Error | undefined;
    if (CODES.has(code)) {
      switch (code as CairnErrorCode) {
        case 'INVALID_INPUT':
          e = new ValidationError(message);
          break;
        case 'NOT_FOUND':
          e = new NotFoundError(str('kind') ?? 'resource', str('id') ?? '?');
          break;
        case 'CONFLICT':
          e = new ConflictError(message);
          break;
        case 'PARAM_CONFLICT': {
          const [runId, key, existing, attempted] = [str('runId'), str('key'), str('existing'), str('attempted')];
          e = runId !== undefined && key !== undefined && existing !== undefined && attempted !== undefined
            ? new ParamConflictError(runId, key, existing, attempted)
            : new CairnError('PARAM_CONFLICT', message);
          break;
        }
        case 'INVALID_STATE':
          e = new InvalidStateError(message);
          break;
        case 'FILTER_SYNTAX':
          e = new FilterSyntaxError(str('detail') ?? message, typeof d.column === 'number' ? d.column : 0, str('input') ?? '');
          break;
        case 'STORE_LOCKED':
          e = new StoreLockedError(message);
          break;
        case 'STORE_DAMAGED':
          e = new StoreDamagedError(message);
          break;
        case 'STORE_UNREACHABLE':
          e = new StoreUnreachableError(message);
          break;
      }
      // The server's words win, whatever a constructor would have said.
      if (e && e.message !== message) Object.defineProperty(e, 'message', { value: message, writable: true, configurable: true });
      if (e) return e;
    }
    return new Error(`the Cairn server at ${where} failed (HTTP ${status}): ${message}`);
  }
  if (status === 502 || status === 503 || status === 504 || status === 429) {
    return new StoreUnreachableError(`the Cairn server at ${where} is unavailable (HTTP ${status}); it will be retried, or check the server`);
  }
  if (status === 404 || status === 405) {
    return new StoreUnreachableError(`no Cairn ingest endpoint at ${where} (HTTP ${status}); check the tracking URL (it should point at a Cairn server)`);
  }
  if (status === 401 || status === 403) {
    return new ValidationError(`the Cairn server at ${where} refused the request (HTTP ${status}); check CAIRN_TOKEN`);
  }
  if (status === 413) return new ValidationError(`the Cairn server at ${where} refused a request as too large (HTTP 413)`);
  return new Error(`the Cairn server at ${where} answered HTTP ${status} without a Cairn error`);
}
