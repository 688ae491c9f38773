import { sql } from 'drizzle-orm';
import { check, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid, boolean } from 'drizzle-orm/pg-core';
import { runs } from './core-tables.ts';

/*
 * What the training pipeline decides, kept apart from tags (which users edit freely):
 * gate verdicts, sweep state, champion decisions. Only the pipeline writes these rows
 * (workers and the CLI, through the Store); no route of the portal's API or of the
 * ingest API writes them, so nothing a user can edit changes what the pipeline does.
 */

/** A gate's value as recorded: a number, text (status, timestamps, 'NaN'), or null when the run lacked it. */
export type GateValue = number | string | null;

/**
 * The verdict of a tier's promotion gate on a run, with the expression and the values that
 * decided it. One row per (run, tier): a gate is evaluated once, when the run ends, and a
 * re-evaluation (a retried job) replaces the row rather than adding a version, since it
 * reads the same ended run.
 */
export const gateResults = pgTable(
  'gate_results',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    tier: text('tier').notNull(),
    passed: boolean('passed').notNull(),
    expression: text('expression').notNull(),
    values: jsonb('values').$type<Record<string, GateValue>>().notNull().default({}),
    missing: text('missing').array().notNull().default(sql`'{}'::text[]`),
    evaluatedAt: timestamp('evaluated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.tier] }),
    // The schedule's candidates: passed verdicts of one tier.
    index('gate_results_tier_passed').on(t.tier, t.passed, t.runId),
    index('gate_results_evaluated').on(t.evaluatedAt),
  ],
);

export const SWEEP_STATUSES = ['running', 'finished', 'failed', 'cancelled'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];

/**
 * A sweep, keyed by its parent run. `spec` is the whole validated spec (version, space,
 * strategy, seed, maxTrials, parallel, objective, policies, prefix, job settings); the
 * columns beside it are what listings and the workers' scan read without parsing it.
 */
export const sweeps = pgTable(
  'sweeps',
  {
    parentRunId: uuid('parent_run_id')
      .primaryKey()
      .references(() => runs.id, { onDelete: 'cascade' }),
    strategy: text('strategy').notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    objectiveMetric: text('objective_metric').notNull(),
    objectiveDirection: text('objective_direction', { enum: ['minimize', 'maximize'] }).notNull(),
    prefix: text('prefix').notNull(),
    maxTrials: integer('max_trials').notNull(),
    parallel: integer('parallel').notNull(),
    status: text('status', { enum: SWEEP_STATUSES }).notNull().default('running'),
    bestRunId: uuid('best_run_id').references(() => runs.id, { onDelete: 'set null' }),
    bestTrial: integer('best_trial'),
    bestValue: doublePrecision('best_value'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('sweeps_status_prefix').on(t.status, t.prefix),
    check('sweeps_status_check', sql`${t.status} in ('running','finished','failed','cancelled')`),
    check('sweeps_direction_check', sql`${t.objectiveDirection} in ('minimize','maximize')`),
  ],
);

/** A sweep's trial: the run, its index in the sweep (unique per sweep) and its own swept params. */
export const sweepTrials = pgTable(
  'sweep_trials',
  {
    runId: uuid('run_id')
      .primaryKey()
      .references(() => runs.id, { onDelete: 'cascade' }),
    sweepId: uuid('sweep_id')
      .notNull()
      .references(() => sweeps.parentRunId, { onDelete: 'cascade' }),
    trialIndex: integer('trial_index').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [uniqueIndex('sweep_trials_sweep_index').on(t.sweepId, t.trialIndex)],
);

export const CHAMPION_DECISIONS = ['first', 'promoted', 'kept', 'error'] as const;
export type ChampionDecisionKind = (typeof CHAMPION_DECISIONS)[number];

/** Champion / challenger: what the comparison of a run with `model@alias` decided, one row per (run, tier). */
export const championDecisions = pgTable(
  'champion_decisions',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    tier: text('tier').notNull(),
    decision: text('decision', { enum: CHAMPION_DECISIONS }).notNull(),
    model: text('model').notNull(),
    alias: text('alias').notNull(),
    metric: text('metric').notNull(),
    challenger: doublePrecision('challenger'),
    champion: doublePrecision('champion'),
    /** The version the alias points at afterwards, when it moved. */
    version: integer('version'),
    detail: text('detail').notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.tier] }), check('champion_decisions_decision_check', sql`${t.decision} in ('first','promoted','kept','error')`)],
);
