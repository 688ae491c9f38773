import { and, asc, desc, eq, inArray, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { ConflictError, NotFoundError, ValidationError, CHAMPION_DECISIONS, SWEEP_STATUSES, championDecisions, gateResults, keySchema, runAttempts, runs, sweepTrials, sweeps } from '@cairn/schema';
import type { Db } from './db.ts';
import { createRun } from './runs.ts';
import { getRunRow } from './run-row.ts';
import { validate, validateId } from './validate.ts';
import type { ChampionDecision, CreateRunInput, GateRecord, PipelineDecisions, RecordChampionInput, RecordGateInput, Run, SweepPatch, SweepRecord, SweepTrialRecord } from './types.ts';

/*
 * The pipeline's decisions: gate verdicts, sweeps and their trials, champion decisions.
 * Written only by the pipeline (workers, the CLI); no route of the portal's API or of the
 * ingest API calls the writers below, and nothing the pipeline decides is read from tags.
 */

const tierSchema = z.string().min(1).max(64);
const gateValueSchema = z.union([z.number(), z.string().max(64 * 1024), z.null()]);
const gateInputSchema = z.object({
  runId: z.string(),
  tier: tierSchema,
  passed: z.boolean(),
  expression: z.string().min(1).max(10_000),
  values: z.record(z.string().max(1_000), gateValueSchema),
  missing: z.array(z.string().max(1_000)).max(1_000),
});

/** Records (or, for a run and tier already gated, replaces) a gate's verdict. */
export async function recordGateResult(db: Db, input: RecordGateInput): Promise<GateRecord> {
  const g = validate(gateInputSchema, input, 'gate result');
  const runId = (await getRunRow(db, validateId(g.runId))).id;
  const values = { passed: g.passed, expression: g.expression, values: g.values, missing: g.missing, evaluatedAt: new Date() };
  const [row] = await db
    .insert(gateResults)
    .values({ runId, tier: g.tier, ...values })
    .onConflictDoUpdate({ target: [gateResults.runId, gateResults.tier], set: values })
    .returning();
  return row!;
}

/** Gate verdicts, newest first: of these runs, or of these experiments' runs, or all. */
export async function listGateResults(db: Db, query: { runIds?: readonly string[]; experimentIds?: readonly string[]; limit?: number } = {}): Promise<GateRecord[]> {
  const where: SQL[] = [];
  if (query.runIds) {
    const ids = [...new Set(query.runIds.map((id) => validateId(id)))];
    if (ids.length === 0) return [];
    where.push(inArray(gateResults.runId, ids));
  }
  const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 1_000)), 10_000);
  if (query.experimentIds) {
    const ids = [...new Set(query.experimentIds.map((id) => validateId(id, 'experiment id')))];
    if (ids.length === 0) return [];
    const rows = await db
      .select({ g: gateResults })
      .from(gateResults)
      .innerJoin(runs, eq(runs.id, gateResults.runId))
      .where(and(inArray(runs.experimentId, ids), ...where))
      .orderBy(desc(gateResults.evaluatedAt), asc(gateResults.runId), asc(gateResults.tier))
      .limit(limit);
    return rows.map((r) => r.g);
  }
  return db
    .select()
    .from(gateResults)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(gateResults.evaluatedAt), asc(gateResults.runId), asc(gateResults.tier))
    .limit(limit);
}

// ---------------------------------------------------------------------------------------
// sweeps

const sweepInputSchema = z.object({
  strategy: z.string().min(1).max(64),
  spec: z.record(z.string(), z.unknown()),
  objective: z.object({ metric: keySchema, direction: z.enum(['minimize', 'maximize']) }),
  prefix: z.string().min(1).max(200),
  maxTrials: z.number().int().min(1),
  parallel: z.number().int().min(1),
});
const MAX_SPEC_BYTES = 256 * 1024;

type SweepRow = typeof sweeps.$inferSelect;

function toSweep(row: SweepRow): SweepRecord {
  return {
    parentRunId: row.parentRunId,
    strategy: row.strategy,
    spec: row.spec,
    objective: { metric: row.objectiveMetric, direction: row.objectiveDirection },
    prefix: row.prefix,
    maxTrials: row.maxTrials,
    parallel: row.parallel,
    status: row.status,
    best: row.bestRunId !== null && row.bestTrial !== null && row.bestValue !== null ? { runId: row.bestRunId, trial: row.bestTrial, value: row.bestValue } : null,
    createdAt: row.createdAt,
    endedAt: row.endedAt,
  };
}

/** Creates a sweep's parent run and its sweep record together (all or nothing). */
export async function createSweep(db: Db, input: { run: CreateRunInput; sweep: z.input<typeof sweepInputSchema> }): Promise<{ run: Run; sweep: SweepRecord }> {
  const s = validate(sweepInputSchema, input.sweep, 'sweep');
  if (Buffer.byteLength(JSON.stringify(s.spec)) > MAX_SPEC_BYTES) throw new ValidationError(`a sweep spec is at most ${MAX_SPEC_BYTES / 1024} KiB as JSON`);
  return db.transaction(async (tx) => {
    const run = await createRun(tx as unknown as Db, input.run);
    const [row] = await tx
      .insert(sweeps)
      .values({
        parentRunId: run.id,
        strategy: s.strategy,
        spec: s.spec,
        objectiveMetric: s.objective.metric,
        objectiveDirection: s.objective.direction,
        prefix: s.prefix,
        maxTrials: s.maxTrials,
        parallel: s.parallel,
        status: 'running',
      })
      .returning();
    return { run, sweep: toSweep(row!) };
  });
}

/** The sweep whose parent is this run, or null when the run is no sweep. */
export async function getSweep(db: Db, parentRunId: string): Promise<SweepRecord | null> {
  const [row] = await db.select().from(sweeps).where(eq(sweeps.parentRunId, validateId(parentRunId, 'sweep id')));
  return row ? toSweep(row) : null;
}

/** Sweeps newest first, by status, queue prefix and experiment (each optional). */
export async function listSweeps(db: Db, query: { status?: SweepRecord['status']; prefix?: string; experimentIds?: readonly string[]; limit?: number } = {}): Promise<SweepRecord[]> {
  const where: SQL[] = [];
  if (query.status !== undefined) where.push(eq(sweeps.status, validate(z.enum(SWEEP_STATUSES), query.status, 'sweep status')));
  if (query.prefix !== undefined) where.push(eq(sweeps.prefix, validate(z.string().max(200), query.prefix, 'queue prefix')));
  if (query.experimentIds) {
    const ids = [...new Set(query.experimentIds.map((id) => validateId(id, 'experiment id')))];
    if (ids.length === 0) return [];
    where.push(inArray(runs.experimentId, ids));
  }
  const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 10_000)), 100_000);
  const rows = await db
    .select({ s: sweeps })
    .from(sweeps)
    .innerJoin(runs, eq(runs.id, sweeps.parentRunId))
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(sweeps.createdAt), desc(sweeps.parentRunId))
    .limit(limit);
  return rows.map((r) => toSweep(r.s));
}

const patchSchema = z.object({
  status: z.enum(SWEEP_STATUSES).optional(),
  best: z.object({ runId: z.string(), trial: z.number().int().min(0), value: z.number() }).nullable().optional(),
});

/** Moves a sweep on: its status (an ended status stamps ended_at) and its best trial so far. */
export async function updateSweep(db: Db, parentRunId: string, patch: SweepPatch): Promise<SweepRecord> {
  const p = validate(patchSchema, patch, 'sweep update');
  const set: Partial<typeof sweeps.$inferInsert> = {};
  if (p.status !== undefined) {
    set.status = p.status;
    set.endedAt = p.status === 'running' ? null : new Date();
  }
  if (p.best !== undefined) {
    set.bestRunId = p.best ? validateId(p.best.runId) : null;
    set.bestTrial = p.best?.trial ?? null;
    set.bestValue = p.best?.value ?? null;
  }
  const id = validateId(parentRunId, 'sweep id');
  const [row] = Object.keys(set).length ? await db.update(sweeps).set(set).where(eq(sweeps.parentRunId, id)).returning() : await db.select().from(sweeps).where(eq(sweeps.parentRunId, id));
  if (!row) throw new NotFoundError('sweep', parentRunId);
  return toSweep(row);
}

const trialSchema = z.object({ index: z.number().int().min(0), params: z.record(z.string(), z.unknown()) });

/**
 * Creates trial `index` of a sweep: its run (a child of the parent) and its trial record
 * together. An index the sweep already has is a ConflictError and nothing is created.
 */
export async function createSweepTrial(db: Db, sweepId: string, trial: { index: number; params: Record<string, unknown> }, run: Omit<CreateRunInput, 'parentRunId'>): Promise<Run> {
  const t = validate(trialSchema, trial, 'sweep trial');
  const id = validateId(sweepId, 'sweep id');
  return db.transaction(async (tx) => {
    const created = await createRun(tx as unknown as Db, { ...run, parentRunId: id });
    const inserted = await tx.insert(sweepTrials).values({ runId: created.id, sweepId: id, trialIndex: t.index, params: t.params }).onConflictDoNothing().returning({ runId: sweepTrials.runId });
    if (inserted.length === 0) throw new ConflictError(`sweep ${id} already has trial ${t.index}`);
    return created;
  });
}

function toTrial(row: typeof sweepTrials.$inferSelect): SweepTrialRecord {
  return { runId: row.runId, sweepId: row.sweepId, index: row.trialIndex, params: row.params };
}

/** A sweep's trials by index. */
export async function listSweepTrials(db: Db, sweepId: string): Promise<SweepTrialRecord[]> {
  const rows = await db.select().from(sweepTrials).where(eq(sweepTrials.sweepId, validateId(sweepId, 'sweep id'))).orderBy(asc(sweepTrials.trialIndex));
  return rows.map(toTrial);
}

/** The trial record of a run, or null when the run is no sweep's trial. */
export async function getSweepTrial(db: Db, runId: string): Promise<SweepTrialRecord | null> {
  const [row] = await db.select().from(sweepTrials).where(eq(sweepTrials.runId, validateId(runId)));
  return row ? toTrial(row) : null;
}

// ---------------------------------------------------------------------------------------
// champion / challenger

const championSchema = z.object({
  runId: z.string(),
  tier: tierSchema,
  decision: z.enum(CHAMPION_DECISIONS),
  model: z.string().min(1).max(250),
  alias: z.string().min(1).max(250),
  metric: z.string().min(1).max(1_000),
  challenger: z.number().nullable(),
  champion: z.number().nullable(),
  version: z.number().int().min(1).nullable().optional(),
  detail: z.string().max(64 * 1024),
});

/** Records (or replaces, for a run and tier already compared) a champion decision. */
export async function recordChampionDecision(db: Db, input: RecordChampionInput): Promise<ChampionDecision> {
  const c = validate(championSchema, input, 'champion decision');
  const runId = (await getRunRow(db, validateId(c.runId))).id;
  const values = { decision: c.decision, model: c.model, alias: c.alias, metric: c.metric, challenger: c.challenger, champion: c.champion, version: c.version ?? null, detail: c.detail, decidedAt: new Date() };
  const [row] = await db
    .insert(championDecisions)
    .values({ runId, tier: c.tier, ...values })
    .onConflictDoUpdate({ target: [championDecisions.runId, championDecisions.tier], set: values })
    .returning();
  return row!;
}

/** Everything the pipeline decided about one run: its gates, champion decisions, and sweep or trial record. */
export async function getPipelineDecisions(db: Db, runId: string): Promise<PipelineDecisions> {
  const id = validateId(runId);
  const [gates, champion, sweep, trial, attempts] = await Promise.all([
    db.select().from(gateResults).where(eq(gateResults.runId, id)).orderBy(asc(gateResults.evaluatedAt), asc(gateResults.tier)),
    db.select().from(championDecisions).where(eq(championDecisions.runId, id)).orderBy(asc(championDecisions.decidedAt), asc(championDecisions.tier)),
    getSweep(db, id),
    getSweepTrial(db, id),
    db.select().from(runAttempts).where(eq(runAttempts.runId, id)).orderBy(asc(runAttempts.attempt)),
  ]);
  return { gates, champion, sweep, trial, attempts };
}
