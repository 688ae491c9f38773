import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import {
  InvalidStateError,
  NotFoundError,
  ValidationError,
  artifacts,
  metricSummaries,
  metrics,
  metricRollups,
  nameSchema,
  newId,
  notes,
  params as paramsTable,
  runTags,
  runs,
  TERMINAL_STATUSES,
  type RunStatus,
} from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { getExperiment } from './experiments.ts';
import { claimRun, recordAttempt } from './attempts.ts';
import { addLineageEdge } from './lineage.ts';
import { randomRunName } from './names.ts';
import { queuePrefixSchema } from './queued-runs.ts';
import { insertParams, upsertTags } from './run-data.ts';
import { getRunRow } from './run-row.ts';
import { validate, validateId } from './validate.ts';
import type { CodeRef, CreateRunInput, EndStatus, MetricSummary, Run, RunDetail, RunEnvironment } from './types.ts';

export async function createRun(db: Db, input: CreateRunInput): Promise<Run> {
  const experiment = await getExperiment(db, input.experimentId);
  const name = input.name ?? randomRunName();
  validate(nameSchema, name, 'run name');
  const status = input.status ?? 'running';
  if (status !== 'queued' && status !== 'running') throw new ValidationError(`a new run is 'queued' or 'running', not '${String(status)}'`);
  if (input.parentRunId) await getRunRow(db, validateId(input.parentRunId, 'parent run id'));
  const queuePrefix = input.queuePrefix === undefined ? null : validate(queuePrefixSchema, input.queuePrefix, 'queue prefix');
  if (queuePrefix !== null && status !== 'queued') throw new ValidationError('only a queued run has a queue prefix');
  const now = new Date();
  return db.transaction(async (tx) => {
    const [run] = await tx
      .insert(runs)
      .values({
        id: newId(),
        experimentId: experiment.id,
        name,
        status,
        tier: input.tier ?? null,
        parentRunId: input.parentRunId?.toLowerCase() ?? null,
        gitSha: input.code?.gitSha ?? null,
        gitDirty: input.code?.gitDirty ?? null,
        codeHash: input.code?.codeHash ?? null,
        environment: input.environment ?? {},
        snapshotIds: input.snapshotIds ?? [],
        attempts: status === 'running' ? 1 : 0,
        queuePrefix,
        startedAt: status === 'running' ? now : null,
        heartbeatAt: status === 'running' ? now : null,
      })
      .returning();
    if (!run) throw new Error('insert returned no row');
    // A run created running is taken at once: its first attempt.
    if (status === 'running') await recordAttempt(tx as unknown as Db, run.id, 1, null, now);
    if (input.params) await insertParams(tx as unknown as Db, run.id, input.params);
    if (input.tags) await upsertTags(tx as unknown as Db, run.id, input.tags);
    await linkInputs(tx as unknown as Db, run.id, run.snapshotIds, run.codeHash);
    return run;
  });
}

export async function getRun(db: Db, id: string): Promise<RunDetail> {
  const run = await getRunRow(db, id);
  const [detail] = await attachDetails(db, [run]);
  return detail!;
}

/** The run's own row (status, tier, parent…) without params, tags or metrics: one query. */
export async function getRunHead(db: Db, id: string): Promise<Run> {
  return getRunRow(db, validateId(id));
}

/** Several runs' rows in one query, in no particular order; ids not found are left out. */
export async function getRunHeads(db: Db, ids: readonly string[]): Promise<Run[]> {
  if (ids.length === 0) return [];
  return db.select().from(runs).where(inArray(runs.id, ids.map((id) => validateId(id))));
}

/** Adds params, tags and metric summaries to runs in three queries, whatever the count. */
export async function attachDetails(db: Db, list: Run[]): Promise<RunDetail[]> {
  if (list.length === 0) return [];
  const ids = list.map((r) => r.id);
  const [ps, ts, ms] = await Promise.all([
    db.select().from(paramsTable).where(inArray(paramsTable.runId, ids)),
    db.select().from(runTags).where(inArray(runTags.runId, ids)),
    db.select().from(metricSummaries).where(inArray(metricSummaries.runId, ids)),
  ]);
  const byRun = new Map<string, RunDetail>(list.map((r) => [r.id, { ...r, params: {}, tags: {}, metrics: {} }]));
  for (const p of ps) byRun.get(p.runId)!.params[p.key] = p.value;
  for (const t of ts) byRun.get(t.runId)!.tags[t.key] = t.value;
  for (const m of ms) {
    const s: MetricSummary = { key: m.key, last: m.last, lastStep: m.lastStep, lastWallMs: m.lastWallMs, min: m.min, max: m.max, count: m.count };
    byRun.get(m.runId)!.metrics[m.key] = s;
  }
  return list.map((r) => byRun.get(r.id)!);
}

export async function resolveRunId(db: Db, idOrPrefix: string): Promise<string> {
  const s = idOrPrefix.trim().toLowerCase();
  if (!/^[0-9a-f-]{4,36}$/.test(s)) throw new ValidationError(`invalid run id '${idOrPrefix.slice(0, 80)}': give a UUID or at least 4 of its leading hex digits`);
  if (s.length === 36) return (await getRunRow(db, s)).id;
  const found = await rows<{ id: string }>(db, sql`SELECT id FROM runs WHERE id::text LIKE ${`${s}%`} ORDER BY id LIMIT 2`);
  if (found.length === 0) throw new NotFoundError('run', idOrPrefix);
  if (found.length > 1) throw new ValidationError(`run id prefix '${idOrPrefix}' is ambiguous: give more characters`);
  return found[0]!.id;
}

/**
 * Lineage edges from what a run consumed: each dataset snapshot (`input_to`) and the
 * content-addressed code bundle (`ran_in`). With them, an upstream walk from a
 * deployment reaches version → run → snapshots and code in one query.
 */
async function linkInputs(db: Db, runId: string, snapshotIds: readonly string[], codeHash: string | null): Promise<void> {
  const to = { kind: 'run' as const, id: runId };
  for (const id of snapshotIds) await addLineageEdge(db, { kind: 'snapshot', id }, to, 'input_to');
  if (codeHash) await addLineageEdge(db, { kind: 'code', id: codeHash }, to, 'ran_in');
}

/**
 * queued → running, recording environment and code. A new attempt (claimRun) unless
 * `newAttempt` is false: a worker that claimed the run starts it under its own attempt.
 */
export async function startRun(db: Db, id: string, patch: { environment?: RunEnvironment; code?: CodeRef } = {}, options: { newAttempt?: boolean } = {}): Promise<Run> {
  validateId(id);
  const now = new Date();
  const set: Partial<typeof runs.$inferInsert> = {};
  if (patch.environment) set.environment = patch.environment;
  if (patch.code?.gitSha !== undefined) set.gitSha = patch.code.gitSha;
  if (patch.code?.gitDirty !== undefined) set.gitDirty = patch.code.gitDirty;
  if (patch.code?.codeHash !== undefined) set.codeHash = patch.code.codeHash;
  let run: Run | undefined;
  if (options.newAttempt === false) {
    [run] = await db
      .update(runs)
      .set({ ...set, status: 'running', startedAt: sql`coalesce(${runs.startedAt}, ${now})`, heartbeatAt: now })
      .where(and(eq(runs.id, id), inArray(runs.status, ['queued', 'running'])))
      .returning();
    if (!run) {
      const existing = await getRunRow(db, id);
      throw new InvalidStateError(`run ${id} has ended (${existing.status}); start a new run instead`);
    }
  } else {
    ({ run } = await claimRun(db, id, {}, set));
  }
  if (patch.code?.codeHash) await linkInputs(db, run.id, [], run.codeHash);
  return run;
}

/**
 * Merges facts learnt after a run started (the training backend a job settled on, and why
 * better ones were skipped) into its environment. Top-level keys of `patch` replace the
 * stored ones; the rest are kept.
 */
export async function mergeEnvironment(db: Db, id: string, patch: RunEnvironment): Promise<Run> {
  validateId(id);
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new ValidationError('environment patch must be an object');
  const json = JSON.stringify(patch);
  const [run] = await db
    .update(runs)
    .set({ environment: sql`coalesce(${runs.environment}, '{}'::jsonb) || ${json}::jsonb` })
    .where(eq(runs.id, id))
    .returning();
  if (run) return run;
  return getRunRow(db, id);
}

export async function endRun(db: Db, id: string, status: EndStatus, reason?: string | null): Promise<Run> {
  validateId(id);
  if (!TERMINAL_STATUSES.includes(status)) throw new ValidationError(`'${String(status)}' is not an end status (finished, failed, abandoned, cancelled)`);
  const [run] = await db
    .update(runs)
    .set({ status, statusReason: reason ?? null, endedAt: new Date() })
    .where(and(eq(runs.id, id), inArray(runs.status, ['queued', 'running'])))
    .returning();
  if (run) return run;
  const existing = await getRunRow(db, id);
  // Ending twice the same way is a retry, not a conflict.
  if (existing.status === status) return existing;
  throw new InvalidStateError(`run ${id} already ended as ${existing.status}; it cannot become ${status}`);
}

export async function heartbeat(db: Db, id: string): Promise<void> {
  validateId(id);
  const r = await db.update(runs).set({ heartbeatAt: new Date() }).where(eq(runs.id, id)).returning({ id: runs.id });
  if (!r[0]) throw new NotFoundError('run', id);
}

export async function markLostRuns(db: Db, timeoutMs: number): Promise<string[]> {
  if (!(timeoutMs > 0)) throw new ValidationError('heartbeat timeout must be a positive number of milliseconds');
  const cutoff = new Date(Date.now() - timeoutMs);
  const lost = await db
    .update(runs)
    .set({
      status: 'failed' satisfies RunStatus,
      statusReason: `lost: no heartbeat for ${Math.round(timeoutMs / 1000)} s`,
      endedAt: new Date(),
    })
    .where(and(eq(runs.status, 'running'), lt(sql`coalesce(${runs.heartbeatAt}, ${runs.startedAt}, ${runs.createdAt})`, cutoff)))
    .returning({ id: runs.id });
  return lost.map((r) => r.id);
}

export async function deleteRun(db: Db, id: string): Promise<void> {
  await getRunRow(db, id);
  await db.transaction(async (tx) => {
    await tx.delete(metrics).where(eq(metrics.runId, id));
    await tx.delete(metricRollups).where(eq(metricRollups.runId, id));
    await tx.delete(notes).where(and(eq(notes.targetKind, 'run'), eq(notes.targetId, id)));
    await tx.delete(artifacts).where(eq(artifacts.runId, id));
    await tx.delete(runs).where(eq(runs.id, id));
  });
}
