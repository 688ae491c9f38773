import { CairnError } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { INGEST_PROTOCOL_VERSION, decodeMetricValue, errorToWire, toRunInfo, type IngestResponse } from './ingest-protocol.ts';
import { matchIngestRoute, parseIngestCall, type IngestCall } from './ingest-routes.ts';

/** Who is writing, as the server established it (never from the request body). */
export interface IngestIdentity {
  /** Recorded as a note's author; none in local mode. */
  author?: string;
}

const ok = (body: unknown, status = 200): IngestResponse => ({ status, body });

/**
 * Executes a call that was matched, validated and (in team mode) authorised: the very
 * value the access check looked at. Throws the store's typed errors.
 */
export async function executeIngestCall(store: Store, call: IngestCall, identity: IngestIdentity = {}): Promise<IngestResponse> {
  if (call.op === 'health') return ok({ ok: true, protocol: INGEST_PROTOCOL_VERSION });
  if (call.op === 'createRun') {
    const req = call.body;
    const experimentId = req.experimentId ?? (await store.ensureExperiment({ project: req.project, name: req.experiment! })).id;
    const run = await store.createRun({
      experimentId,
      name: req.name,
      status: req.status,
      tier: req.tier,
      parentRunId: req.parentRunId,
      snapshotIds: req.snapshotIds,
      params: req.params,
      tags: req.tags,
      code: req.code,
      environment: req.environment,
    });
    return ok({ run: toRunInfo(run) }, 201);
  }
  const { runId } = call;
  switch (call.action) {
    case 'start':
      return ok({ run: toRunInfo(await store.startRun(runId, call.body)) });
    case 'metrics': {
      const points = call.body.points.map((p) => ({ key: p.key, value: decodeMetricValue(p.value), step: p.step, wallMs: p.wallMs }));
      const { inserted } = await store.logMetrics(runId, points);
      return ok({ batchId: call.body.batchId, inserted });
    }
    case 'params':
      await store.logParams(runId, call.body.params);
      return ok({ ok: true });
    case 'tags':
      await store.setTags(runId, call.body.tags);
      return ok({ ok: true });
    case 'notes': {
      const note = await store.addNote({ kind: 'run', id: runId }, call.body.body, identity.author);
      return ok({ note: { id: note.id, createdAt: note.createdAt.toISOString() } }, 201);
    }
    case 'artifacts': {
      const a = await store.logArtifact(runId, call.body);
      return ok({ artifact: { path: a.path, hash: a.hash, size: a.size, mediaType: a.mediaType, createdAt: a.createdAt.toISOString() } }, 201);
    }
    case 'heartbeat':
      await store.heartbeat(runId);
      return ok({ ok: true });
    case 'end':
      return ok({ run: toRunInfo(await store.endRun(runId, call.body.status, call.body.reason)) });
  }
}

export type IngestHandler = (method: string, path: string, body: unknown) => Promise<IngestResponse>;

export interface IngestHandlerOptions {
  /** Called with errors that are not Cairn errors (answered 500), for the server's log. */
  onInternalError?: (error: unknown, request: { method: string; path: string }) => void;
}

/** An error as its answer; errors that are not Cairn errors go to `onInternalError` first. */
export function ingestErrorAnswer(e: unknown, request: { method: string; path: string }, options: IngestHandlerOptions = {}): IngestResponse {
  if (!(e instanceof CairnError)) options.onInternalError?.(e, request);
  return errorToWire(e);
}

/**
 * The ingest endpoint as a plain function for a server with no accounts (local mode):
 * `path` is relative to the mount point (`/runs/<id>/tags`), `body` the parsed JSON
 * body (undefined when empty). Never throws: every failure is an answer with an error
 * body. A server that checks access matches, parses and executes the steps itself
 * (matchIngestRoute, parseIngestCall, executeIngestCall).
 */
export function createIngestHandler(store: Store, options: IngestHandlerOptions = {}): IngestHandler {
  return async (method, path, body) => {
    const match = matchIngestRoute(method, path, '');
    if (!match.ok) return match.answer;
    try {
      return await executeIngestCall(store, parseIngestCall(match.route, body));
    } catch (e) {
      return ingestErrorAnswer(e, { method, path }, options);
    }
  };
}
