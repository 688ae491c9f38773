import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { teams } from './auth-tables.ts';

// Team mode's tables live next door; re-exported so drizzle-kit and the store's
// drizzle instance see one schema.
export * from './auth-tables.ts';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const RUN_STATUSES = ['queued', 'running', 'finished', 'failed', 'abandoned', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: readonly RunStatus[] = ['finished', 'failed', 'abandoned', 'cancelled'];

export const LINEAGE_KINDS = ['dataset', 'snapshot', 'code', 'run', 'model', 'model_version', 'deployment'] as const;
export type LineageKind = (typeof LINEAGE_KINDS)[number];

export const projects = pgTable(
  'projects',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull().unique(),
    description: text('description').notNull().default(''),
    createdAt: createdAt(),
    /**
     * The team that owns the project (team mode). Null: no team, so only local mode
     * sees it. No cascade: deleting a team that still owns projects fails instead of
     * orphaning their runs.
     */
    teamId: text('team_id').references(() => teams.id),
  },
  (t) => [index('projects_team').on(t.teamId)],
);

export const experiments = pgTable(
  'experiments',
  {
    id: uuid('id').primaryKey(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    createdAt: createdAt(),
    archivedAt: timestamp('archived_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [uniqueIndex('experiments_project_name').on(t.projectId, t.name)],
);

/** Execution environment captured when a run starts. */
export interface RunEnvironment {
  node?: string;
  platform?: string;
  arch?: string;
  hostname?: string;
  cpus?: { model: string; count: number };
  memoryBytes?: number;
  gpu?: string;
  tfjsBackend?: string;
  backendSkipped?: Record<string, string>;
  packageLockHash?: string;
  [key: string]: unknown;
}

export const runs = pgTable(
  'runs',
  {
    id: uuid('id').primaryKey(),
    experimentId: uuid('experiment_id')
      .notNull()
      .references(() => experiments.id),
    name: text('name').notNull(),
    status: text('status', { enum: RUN_STATUSES }).notNull(),
    statusReason: text('status_reason'),
    tier: text('tier'),
    parentRunId: uuid('parent_run_id'),
    gitSha: text('git_sha'),
    gitDirty: boolean('git_dirty'),
    codeHash: text('code_hash'),
    environment: jsonb('environment').$type<RunEnvironment>().notNull().default({}),
    snapshotIds: text('snapshot_ids').array().notNull().default(sql`'{}'::text[]`),
    /**
     * The run's current attempt: how many times it was taken (started by a script, picked
     * up by a worker). A worker's writes carry it as their fencing token (run_attempts).
     */
    attempts: integer('attempts').notNull().default(0),
    /**
     * The BullMQ prefix the pipeline queued the run's job under (submit, promotion, a
     * sweep's trial, a schedule, "Run again"); null for a run the pipeline did not queue.
     * Workers of that prefix queue the job again when Redis loses it. Written only by the
     * pipeline, never from a tag, so no edit moves a job to other workers or strands it.
     */
    queuePrefix: text('queue_prefix'),
    createdAt: createdAt(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('runs_experiment_created').on(t.experimentId, t.createdAt),
    // Newest-first listings (the default sort) walk this instead of sorting every run.
    index('runs_created_id').on(t.createdAt, t.id),
    index('runs_status').on(t.status),
    index('runs_parent').on(t.parentRunId),
    index('runs_name').on(t.name),
    // requeueLostJobs: the queued runs of one prefix, walked by id; ended runs leave it.
    index('runs_queued_prefix').on(t.queuePrefix, t.id).where(sql`${t.status} = 'queued' AND ${t.queuePrefix} IS NOT NULL`),
    check('runs_status_check', sql`${t.status} in ('queued','running','finished','failed','abandoned','cancelled')`),
  ],
);

/** How an attempt at a run ended; null while it runs. */
export const ATTEMPT_OUTCOMES = ['finished', 'failed', 'abandoned', 'cancelled', 'retried', 'handed_back', 'superseded', 'lost_lock'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * Every pickup of a run: a worker taking its job (first time, a retry, a hand-back, a
 * stalled job taken over) or a script starting it. `attempt` counts from 1 and is the
 * fencing token: the run's `attempts` holds the newest, and the store refuses the writes
 * of any older one. Written by the store and the pipeline only; tags stay the user's.
 */
export const runAttempts = pgTable(
  'run_attempts',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    /** host:pid:nonce of the worker; null for a script's own start. */
    workerId: text('worker_id'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
    /** The checkpoint's step it resumed from; null when it started from scratch. */
    resumedFromStep: bigint('resumed_from_step', { mode: 'number' }),
    outcome: text('outcome', { enum: ATTEMPT_OUTCOMES }),
    /** Why it ended so (the retried failure, who took it over). */
    detail: text('detail'),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.attempt] }),
    check('run_attempts_outcome_check', sql`${t.outcome} in ('finished','failed','abandoned','cancelled','retried','handed_back','superseded','lost_lock')`),
  ],
);

/**
 * Params are immutable once set. `valueNum` holds the value as a number when it is
 * one, so `params.lr < 0.01` is a range scan instead of a cast per row.
 */
export const params = pgTable(
  'params',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
    valueNum: doublePrecision('value_num'),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.key] }),
    index('params_key_num').on(t.key, t.valueNum),
    index('params_key_value').on(t.key, t.value),
  ],
);

/**
 * The full history of every metric. (run, key, step) is the identity of a point,
 * so a retried batch is absorbed by ON CONFLICT DO NOTHING. No foreign key: the
 * ingest path checks the run once per batch, not once per row.
 */
export const metrics = pgTable(
  'metrics',
  {
    runId: uuid('run_id').notNull(),
    key: text('key').notNull(),
    step: bigint('step', { mode: 'number' }).notNull(),
    wallMs: bigint('wall_ms', { mode: 'number' }).notNull(),
    value: doublePrecision('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key, t.step] })],
);

/** Per (run, key) summary: what listings, filters and sorts read. NaN is kept out of min/max. */
export const metricSummaries = pgTable(
  'metric_summaries',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    last: doublePrecision('last').notNull(),
    lastStep: bigint('last_step', { mode: 'number' }).notNull(),
    lastWallMs: bigint('last_wall_ms', { mode: 'number' }).notNull(),
    min: doublePrecision('min'),
    max: doublePrecision('max'),
    count: bigint('count', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.key] }),
    index('metric_summaries_key_last').on(t.key, t.last),
    index('metric_summaries_key_min').on(t.key, t.min),
    index('metric_summaries_key_max').on(t.key, t.max),
  ],
);

/**
 * Pre-aggregated blocks of each series, so a chart of a million-point series reads
 * a few thousand rows instead of a million. A block at `level` L covers steps
 * [block·L, (block+1)·L) and keeps the extremes with their steps (spikes survive).
 * Written on ingest next to the points; levels are 4x apart (see ROLLUP_LEVELS).
 */
export const metricRollups = pgTable(
  'metric_rollups',
  {
    runId: uuid('run_id').notNull(),
    key: text('key').notNull(),
    level: integer('level').notNull(),
    block: bigint('block', { mode: 'number' }).notNull(),
    count: bigint('count', { mode: 'number' }).notNull(),
    firstStep: bigint('first_step', { mode: 'number' }).notNull(),
    lastStep: bigint('last_step', { mode: 'number' }).notNull(),
    /** Smallest non-NaN value with its step and wall time; null when the block holds only NaN. */
    min: doublePrecision('min'),
    minStep: bigint('min_step', { mode: 'number' }),
    minWallMs: bigint('min_wall_ms', { mode: 'number' }),
    max: doublePrecision('max'),
    maxStep: bigint('max_step', { mode: 'number' }),
    maxWallMs: bigint('max_wall_ms', { mode: 'number' }),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key, t.level, t.block] })],
);

/** Block widths of metric_rollups, in steps. */
export const ROLLUP_LEVELS = [16, 64, 256, 1024, 4096, 16384, 65536] as const;

export const runTags = pgTable(
  'run_tags',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] }), index('run_tags_key_value').on(t.key, t.value)],
);

export const experimentTags = pgTable(
  'experiment_tags',
  {
    experimentId: uuid('experiment_id')
      .notNull()
      .references(() => experiments.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.experimentId, t.key] })],
);

/** Markdown notes on runs and experiments: what was tried and what went wrong. */
export const notes = pgTable(
  'notes',
  {
    id: uuid('id').primaryKey(),
    targetKind: text('target_kind', { enum: ['run', 'experiment'] }).notNull(),
    targetId: uuid('target_id').notNull(),
    body: text('body').notNull(),
    author: text('author'),
    createdAt: createdAt(),
  },
  (t) => [index('notes_target').on(t.targetKind, t.targetId, t.createdAt)],
);

export const artifacts = pgTable(
  'artifacts',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    path: text('path').notNull(),
    hash: text('hash').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    mediaType: text('media_type').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.path] }), index('artifacts_hash').on(t.hash)],
);

export const datasets = pgTable(
  'datasets',
  {
    id: uuid('id').primaryKey(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('datasets_project_name').on(t.projectId, t.name)],
);

/**
 * A snapshot's id is the root hash of its manifest (BLAKE3, hex): the same bytes have
 * the same id in every dataset, so a row is keyed by (dataset, id).
 */
export const snapshots = pgTable(
  'snapshots',
  {
    id: text('id').notNull(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id),
    parentId: text('parent_id'),
    message: text('message').notNull().default(''),
    fileCount: bigint('file_count', { mode: 'number' }).notNull().default(0),
    bytes: bigint('bytes', { mode: 'number' }).notNull().default(0),
    profile: jsonb('profile'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.datasetId, t.id] }),
    index('snapshots_dataset_created').on(t.datasetId, t.createdAt),
    index('snapshots_id').on(t.id),
  ],
);

export const models = pgTable(
  'models',
  {
    id: uuid('id').primaryKey(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('models_project_name').on(t.projectId, t.name)],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    id: uuid('id').primaryKey(),
    modelId: uuid('model_id')
      .notNull()
      .references(() => models.id),
    version: integer('version').notNull(),
    runId: uuid('run_id').references(() => runs.id),
    artifactHash: text('artifact_hash').notNull(),
    description: text('description').notNull().default(''),
    tags: jsonb('tags').$type<Record<string, string>>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('model_versions_model_version').on(t.modelId, t.version)],
);

export const modelAliases = pgTable(
  'model_aliases',
  {
    modelId: uuid('model_id')
      .notNull()
      .references(() => models.id),
    alias: text('alias').notNull(),
    versionId: uuid('version_id')
      .notNull()
      .references(() => modelVersions.id),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.alias] })],
);

/** Every move of an alias, so "what was production on May 3rd" has an answer. */
export const modelAliasHistory = pgTable(
  'model_alias_history',
  {
    id: uuid('id').primaryKey(),
    modelId: uuid('model_id')
      .notNull()
      .references(() => models.id),
    alias: text('alias').notNull(),
    versionId: uuid('version_id').references(() => modelVersions.id),
    movedAt: timestamp('moved_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('model_alias_history_model').on(t.modelId, t.alias, t.movedAt)],
);

export const deployments = pgTable(
  'deployments',
  {
    id: uuid('id').primaryKey(),
    modelVersionId: uuid('model_version_id')
      .notNull()
      .references(() => modelVersions.id),
    environment: text('environment').notNull(),
    host: text('host').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    stoppedAt: timestamp('stopped_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('deployments_version').on(t.modelVersionId)],
);

/**
 * Provenance as a graph. Edges point downstream: from an input (snapshot, code) to
 * what was made with it (run), from a run to the model version it produced, from a
 * version to its deployments. Ids are text so every kind (uuid or content hash) fits.
 */
export const lineageEdges = pgTable(
  'lineage_edges',
  {
    fromKind: text('from_kind', { enum: LINEAGE_KINDS }).notNull(),
    fromId: text('from_id').notNull(),
    toKind: text('to_kind', { enum: LINEAGE_KINDS }).notNull(),
    toId: text('to_id').notNull(),
    relation: text('relation').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.fromKind, t.fromId, t.toKind, t.toId, t.relation] }),
    index('lineage_edges_to').on(t.toKind, t.toId),
  ],
);

