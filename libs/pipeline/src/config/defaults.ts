import type { PolicySpec, Tier } from '@cairn/engine';

/**
 * The continuous-training pipeline's configuration: what each tier trains on, for how
 * long, what may abandon it, the gate a finished run must pass, and how its jobs queue.
 *
 * Users write `cairn.config.ts` at the project root:
 *
 *   import { defineConfig } from '@cairn/pipeline';
 *   export default defineConfig({
 *     tiers: {
 *       ci: { subset: 0.02 },
 *       extended: { gate: 'metrics.val_accuracy >= 0.9 and metrics.loss.min < 0.5' },
 *       nightly: { schedule: '30 1 * * *', resources: { gpu: true } },
 *     },
 *   });
 *
 * Everything is optional: each tier the file names is merged field by field over that
 * tier's defaults (`resources` and `retry` key by key; `policies` is a list and replaces
 * the default list). `null` clears an optional default (`gate: null`, `promotesTo: null`,
 * `schedule: null`, `candidatesFrom: null`).
 *
 * Promotion works two ways:
 * - push: a tier with `promotesTo` enqueues that tier for the same code and data as
 *   soon as one of its runs passes its gate (ci → extended by default);
 * - pull: a tier with a `schedule` runs on that cron, training the newest code whose run
 *   of `candidatesFrom` passed its gate (see `candidateFilter`). By default nightly and
 *   weekly both pull from extended, so passing extended only marks code as eligible
 *   (the verdict recordGate records in the store's gate results, which only the pipeline
 *   writes: a `gate` tag is an ordinary tag and makes nothing eligible); it does not
 *   start a nightly run at once.
 *
 * Settings precedence for the training itself (see tierSettingsFor): the engine's
 * TIER_DEFAULTS < cairn.config.ts (over DEFAULT_PIPELINE_CONFIG) < the definition's own
 * `tiers`, except `timeBudgetMs`, which the definition may shorten but never lengthen.
 */

/** Which snapshot of the data a tier's job trains on. */
export type SnapshotChoice = 'pinned' | 'latest';

export interface TierConfig {
  /** Fraction of records (0, 1], picked by hashing record ids, so the same subset every time. */
  subset: number;
  /** Wall-clock budget for the whole run (data loading and fit); it is abandoned when spent. */
  timeBudgetMs: number;
  /** Epochs to train; absent: the definition's `epochs` param. */
  epochs?: number;
  /** Early-abandon policies on top of the NaN guard and the time budget. */
  policies: PolicySpec[];
  /**
   * The promotion gate, in the store's filter language, evaluated when the run ends
   * (e.g. `status = 'finished' and metrics.val_accuracy >= 0.9`). Absent: no gate is
   * evaluated and the tier promotes nothing.
   */
  gate?: string;
  /** Jobs of this tier one worker runs at once. */
  concurrency: number;
  /** BullMQ priority: 1 is taken first; larger numbers wait behind smaller ones. */
  priority: number;
  /** What a job needs from the worker that takes it: `gpu: true` waits for a worker with a GPU. */
  resources: { gpu: boolean };
  /**
   * Retries of a job whose run failed for a reason outside the training (a lost worker,
   * an unreachable store). `attempts` counts the first one too (BullMQ's meaning);
   * `backoffMs` is the first delay, doubled per retry when `strategy` is 'exponential'.
   */
  retry: { attempts: number; backoffMs: number; strategy: 'fixed' | 'exponential' };
  /** Push promotion: a passed gate enqueues this tier at once for the same code and data. */
  promotesTo?: Tier;
  /** A cron pattern (5 fields, or 6 with seconds first) on which the scheduler starts this tier. */
  schedule?: string;
  /** The IANA time zone the schedule is read in. */
  timezone: string;
  /** Pull promotion: a scheduled job trains the newest code whose run of this tier passed its gate. */
  candidatesFrom?: Tier;
  /**
   * 'pinned': the snapshot the job was enqueued with (the one the promoted run used);
   * 'latest': the dataset's newest snapshot when the job starts.
   */
  snapshot: SnapshotChoice;
  /** Evaluate the test split too (cheap tiers leave it alone so it is not tuned against). */
  evaluateTest: boolean;
  /** Champion / challenger: off unless set (see ChampionConfig). */
  champion?: ChampionConfig;
}

/**
 * Champion / challenger: a finished run of the tier that passed its gate is compared with
 * the model version behind `model@alias`; when it is better by at least `minImprovement`
 * on `metric` (or there is no champion yet), its model is registered as the next version
 * and the alias moved to it.
 */
export interface ChampionConfig {
  model: string;
  /** Default 'champion'. */
  alias: string;
  /** Default: the training definition's objective metric (its last value on each run). */
  metric?: string;
  /** Default: the objective's direction. */
  direction?: 'maximize' | 'minimize';
  /** Default 0: any improvement wins. */
  minImprovement: number;
}

export interface PipelineConfig {
  tiers: Record<Tier, TierConfig>;
  /** Absent: the worker's own default (its environment or local Redis). */
  redisUrl?: string;
  /** BullMQ key prefix, so several projects can share one Redis. */
  queuePrefix: string;
}

/** A tier as cairn.config.ts writes it: any field, merged over the tier's defaults. */
export interface TierConfigInput {
  subset?: number;
  timeBudgetMs?: number;
  epochs?: number;
  policies?: PolicySpec[];
  gate?: string | null;
  concurrency?: number;
  priority?: number;
  resources?: { gpu?: boolean };
  retry?: { attempts?: number; backoffMs?: number; strategy?: 'fixed' | 'exponential' };
  promotesTo?: Tier | null;
  schedule?: string | null;
  timezone?: string;
  candidatesFrom?: Tier | null;
  snapshot?: SnapshotChoice;
  evaluateTest?: boolean;
  champion?: { model: string; alias?: string; metric?: string; direction?: 'maximize' | 'minimize'; minImprovement?: number } | null;
}

/** What cairn.config.ts default-exports. */
export interface PipelineConfigInput {
  tiers?: Partial<Record<Tier, TierConfigInput>>;
  redisUrl?: string;
  queuePrefix?: string;
}

/** For cairn.config.ts: returns its argument, typed, so editors complete and check it. */
export function defineConfig(config: PipelineConfigInput): PipelineConfigInput {
  return config;
}

/** The config files looked for at the project root, first found wins. */
export const CONFIG_FILES = ['cairn.config.ts', 'cairn.config.mts', 'cairn.config.js', 'cairn.config.mjs'] as const;

/** BullMQ's largest priority. */
export const MAX_PRIORITY = 2 ** 21 - 1;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * The defaults, and why:
 * - ci: 1% deterministic subset, 5 minutes, 1 epoch: a smoke test that the code trains
 *   at all. Gate `status = 'finished'` (not abandoned by the NaN guard or the budget,
 *   not failed); a pass enqueues extended. Highest priority and 4 at once: it gates
 *   pushes and is cheap.
 * - extended: 10%, 1 hour, abandoned early by trend (objective heading the wrong way
 *   over 5 evaluations) and median stopping (worse than the median of earlier runs).
 *   Gate `status = 'finished'` (a run the policies let finish); a pass marks the code
 *   eligible for nightly and weekly, it promotes nothing directly (they are scheduled).
 * - nightly: every day at 02:00 UTC, the full training split (subset 1) of the snapshot
 *   the extended run used, full evaluation with the test set, 8 hours, one at a time.
 * - weekly: Sundays at 03:00 UTC, all data of the dataset's latest snapshot, with the
 *   test set, 24 hours, one at a time.
 * Metric thresholds depend on the model, so no default gate names a metric: add them in
 * cairn.config.ts. No tier needs a GPU by default (the engine picks the best backend the
 * worker has); set `resources: { gpu: true }` to keep a tier off CPU-only workers.
 */
export const DEFAULT_PIPELINE_CONFIG: PipelineConfig = deepFreeze({
  tiers: {
    ci: {
      subset: 0.01,
      timeBudgetMs: 5 * MINUTE,
      epochs: 1,
      policies: [],
      gate: "status = 'finished'",
      concurrency: 4,
      priority: 1,
      resources: { gpu: false },
      retry: { attempts: 2, backoffMs: 5_000, strategy: 'exponential' },
      promotesTo: 'extended',
      timezone: 'UTC',
      snapshot: 'pinned',
      evaluateTest: false,
    },
    extended: {
      subset: 0.1,
      timeBudgetMs: HOUR,
      policies: [{ kind: 'trend', window: 5 }, { kind: 'median' }],
      gate: "status = 'finished'",
      concurrency: 2,
      priority: 2,
      resources: { gpu: false },
      retry: { attempts: 3, backoffMs: 30_000, strategy: 'exponential' },
      timezone: 'UTC',
      snapshot: 'pinned',
      evaluateTest: false,
    },
    nightly: {
      subset: 1,
      timeBudgetMs: 8 * HOUR,
      policies: [],
      gate: "status = 'finished'",
      concurrency: 1,
      priority: 3,
      resources: { gpu: false },
      retry: { attempts: 3, backoffMs: 60_000, strategy: 'exponential' },
      schedule: '0 2 * * *',
      timezone: 'UTC',
      candidatesFrom: 'extended',
      snapshot: 'pinned',
      evaluateTest: true,
    },
    weekly: {
      subset: 1,
      timeBudgetMs: 24 * HOUR,
      policies: [],
      gate: "status = 'finished'",
      concurrency: 1,
      priority: 4,
      resources: { gpu: false },
      retry: { attempts: 3, backoffMs: 5 * MINUTE, strategy: 'exponential' },
      schedule: '0 3 * * 0',
      timezone: 'UTC',
      candidatesFrom: 'extended',
      snapshot: 'latest',
      evaluateTest: true,
    },
  },
  queuePrefix: 'cairn',
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
