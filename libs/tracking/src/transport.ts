import type { EndStatus, MetricPoint, Store } from '@cairn/store';
import type { CreateRunRequest, LogArtifactRequest, RunInfo, StartRunRequest } from './ingest-protocol.ts';
import { ValidationError } from '@cairn/schema';
import { toRunInfo } from './ingest-protocol.ts';

function requireName(experiment: string | undefined): string {
  if (experiment === undefined) throw new ValidationError('a new run needs an experiment name or experimentId');
  return experiment;
}

/** A batch of metric points; `batchId` stays the same on every retry of the batch. */
export interface MetricBatch {
  batchId: string;
  points: MetricPoint[];
}

/**
 * How a run reaches the store: directly (`DirectTransport`) or through a Cairn
 * server (`HttpTransport`). Both throw the same typed errors from @cairn/schema.
 * Network trouble is a `StoreUnreachableError`, which the client retries.
 */
/**
 * A note as training code gives it. `author` is honoured where the writer is trusted
 * with the store itself (DirectTransport); over HTTP the server records whom it
 * authenticated instead, and the field is not sent.
 */
export interface NoteInput {
  body: string;
  author?: string;
}

export interface Transport {
  /** Where it sends, for messages: a store location or a server URL. */
  readonly location: string;
  createRun(request: CreateRunRequest): Promise<RunInfo>;
  /** Starts a queued run (or restarts a running one), recording environment and code. */
  startRun(runId: string, request: StartRunRequest): Promise<RunInfo>;
  /** Idempotent on (run, key, step): re-sending a batch never duplicates a point. */
  logMetrics(runId: string, batch: MetricBatch): Promise<{ inserted: number }>;
  logParams(runId: string, params: Record<string, string | number | boolean>): Promise<void>;
  setTags(runId: string, tags: Record<string, string>): Promise<void>;
  addNote(runId: string, note: NoteInput): Promise<{ id: string }>;
  logArtifact(runId: string, artifact: LogArtifactRequest): Promise<void>;
  heartbeat(runId: string): Promise<void>;
  endRun(runId: string, status: EndStatus, reason?: string | null): Promise<RunInfo>;
  /** Releases what the transport opened itself (never a store it was given). */
  close(): Promise<void>;
}

/** Talks to a `Store` in this process: embedded PGlite or PostgreSQL. */
export class DirectTransport implements Transport {
  readonly location: string;

  /** `ownsStore`: close the store when the transport is closed. */
  constructor(
    readonly store: Store,
    private readonly options: { ownsStore?: boolean } = {},
  ) {
    this.location = store.location;
  }

  async createRun(r: CreateRunRequest): Promise<RunInfo> {
    const experimentId = r.experimentId ?? (await this.store.ensureExperiment({ project: r.project, name: requireName(r.experiment) })).id;
    const run = await this.store.createRun({
      experimentId,
      name: r.name,
      status: r.status,
      tier: r.tier,
      parentRunId: r.parentRunId,
      snapshotIds: r.snapshotIds,
      params: r.params,
      tags: r.tags,
      code: r.code,
      environment: r.environment,
    });
    return toRunInfo(run);
  }

  async startRun(runId: string, r: StartRunRequest): Promise<RunInfo> {
    return toRunInfo(await this.store.startRun(runId, r));
  }

  logMetrics(runId: string, batch: MetricBatch): Promise<{ inserted: number }> {
    return this.store.logMetrics(runId, batch.points);
  }

  logParams(runId: string, params: Record<string, string | number | boolean>): Promise<void> {
    return this.store.logParams(runId, params);
  }

  setTags(runId: string, tags: Record<string, string>): Promise<void> {
    return this.store.setTags(runId, tags);
  }

  async addNote(runId: string, note: NoteInput): Promise<{ id: string }> {
    const n = await this.store.addNote({ kind: 'run', id: runId }, note.body, note.author);
    return { id: n.id };
  }

  async logArtifact(runId: string, artifact: LogArtifactRequest): Promise<void> {
    await this.store.logArtifact(runId, artifact);
  }

  heartbeat(runId: string): Promise<void> {
    return this.store.heartbeat(runId);
  }

  async endRun(runId: string, status: EndStatus, reason?: string | null): Promise<RunInfo> {
    return toRunInfo(await this.store.endRun(runId, status, reason));
  }

  async close(): Promise<void> {
    if (this.options.ownsStore) await this.store.close();
  }
}
