import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CairnError, ValidationError } from '@cairn/schema';
import { TIERS, policySpecSchema, type PolicySpec, type Tier, type TierSettings, type TrainingDefinition } from '@cairn/engine';
import { parseFilter } from '@cairn/store';

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

// ---------------------------------------------------------------------------
// validation

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

/** "must be <what>, got <input>" for every failure of a field (type, range, integer). */
function must(what: string) {
  return { error: (iss: { input?: unknown }) => `must be ${what}, got ${show(iss.input)}` };
}

function num(what: string) {
  return z.number(must(what));
}

function int(what: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return num(what).int(must(what)).min(min, must(what)).max(max, must(what));
}

function bool() {
  return z.boolean(must('true or false'));
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, must(`one of ${values.map((v) => `'${v}'`).join(', ')}`));
}

/** A strict object whose unknown keys are named along with the allowed ones. */
function strict<S extends z.ZodRawShape>(shape: S, what: string) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const keys = iss.keys.map((k) => JSON.stringify(k)).join(', ');
        return `unknown key${iss.keys.length > 1 ? 's' : ''} ${keys} in ${what} (allowed: ${allowed})`;
      }
      if (iss.code === 'invalid_type') return `${what} must be an object, got ${show(iss.input)}`;
      return undefined;
    },
  });
}

const tierSchema = oneOf(TIERS as unknown as readonly [Tier, ...Tier[]]);

/** Why a gate expression is unusable, or null. */
export function gateError(expression: string): string | null {
  try {
    if (parseFilter(expression) === null) return 'a gate needs an expression (use null for no gate)';
    return null;
  } catch (e) {
    if (e instanceof CairnError) return `${e.message} in ${show(expression)}`;
    throw e;
  }
}

const gateSchema = z
  .string(must("a filter expression such as \"metrics.val_accuracy >= 0.9\", or null"))
  .superRefine((s, ctx) => {
    const err = gateError(s);
    if (err) ctx.addIssue({ code: 'custom', message: err });
  });

const scheduleSchema = z.string(must("a cron pattern such as '0 2 * * *', or null")).superRefine((s, ctx) => {
  const err = cronError(s);
  if (err) ctx.addIssue({ code: 'custom', message: err });
});

const timezoneSchema = z.string(must("an IANA time zone such as 'UTC' or 'Europe/Paris'")).superRefine((s, ctx) => {
  if (!isTimeZone(s)) ctx.addIssue({ code: 'custom', message: `must be an IANA time zone such as 'UTC' or 'Europe/Paris', got ${show(s)}` });
});

const tierInputShape = {
  subset: num('a fraction in (0, 1]').gt(0, must('a fraction in (0, 1]')).max(1, must('a fraction in (0, 1]')).optional(),
  timeBudgetMs: num('a number of milliseconds > 0').gt(0, must('a number of milliseconds > 0')).optional(),
  epochs: int('a whole number ≥ 1', 1).optional(),
  policies: z.array(policySpecSchema, must('a list of policy specs')).optional(),
  gate: gateSchema.nullable().optional(),
  concurrency: int('a whole number ≥ 1 (jobs at once)', 1).optional(),
  priority: int(`a whole number from 1 (first) to ${MAX_PRIORITY}`, 1, MAX_PRIORITY).optional(),
  resources: strict({ gpu: bool().optional() }, 'resources').optional(),
  retry: strict(
    {
      attempts: int('a whole number ≥ 1 (tries, the first included)', 1).optional(),
      backoffMs: num('a number of milliseconds ≥ 0').min(0, must('a number of milliseconds ≥ 0')).optional(),
      strategy: oneOf(['fixed', 'exponential']).optional(),
    },
    'retry',
  ).optional(),
  promotesTo: tierSchema.nullable().optional(),
  schedule: scheduleSchema.nullable().optional(),
  timezone: timezoneSchema.optional(),
  candidatesFrom: tierSchema.nullable().optional(),
  snapshot: oneOf(['pinned', 'latest']).optional(),
  evaluateTest: bool().optional(),
  champion: strict(
    {
      model: z.string(must('a model name')).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, must('a model name: letters, digits, . _ -')),
      alias: z.string(must('an alias')).regex(/^[a-z][a-z0-9_-]{0,62}$/, must('an alias: lowercase letters, digits, - and _')).refine((a) => a !== 'latest', must("an alias other than 'latest'")).optional(),
      metric: z.string(must('a metric name')).min(1, must('a metric name')).optional(),
      direction: oneOf(['maximize', 'minimize']).optional(),
      minImprovement: num('a number ≥ 0').min(0, must('a number ≥ 0')).optional(),
    },
    'champion',
  )
    .nullable()
    .optional(),
};

const tierInputSchema = strict(tierInputShape, 'a tier');

/** What cairn.config.ts may default-export: every field optional, unknown keys refused. */
export const pipelineConfigSchema = strict(
  {
    tiers: strict(Object.fromEntries(TIERS.map((t) => [t, tierInputSchema.optional()])) as Record<Tier, z.ZodOptional<typeof tierInputSchema>>, 'tiers').optional(),
    redisUrl: z
      .string(must('a redis:// or rediss:// URL'))
      .superRefine((s, ctx) => {
        let ok = false;
        try {
          ok = ['redis:', 'rediss:'].includes(new URL(s).protocol);
        } catch {
          ok = false;
        }
        if (!ok) ctx.addIssue({ code: 'custom', message: `must be a redis:// or rediss:// URL, got ${show(s.replace(/\/\/[^@/]*@/, '//…@'))}` });
      })
      .optional(),
    queuePrefix: z
      .string(must('a non-empty name of letters, digits, _ - . :'))
      .regex(/^[A-Za-z0-9_.:-]+$/, must('a non-empty name of letters, digits, _ - . :'))
      .optional(),
  },
  'the config',
);

// The schema accepts exactly the documented input type, and parses to it.
type SchemaIn = z.input<typeof pipelineConfigSchema>;
type SchemaOut = z.output<typeof pipelineConfigSchema>;
const _inputIsSchemaIn: (c: PipelineConfigInput) => SchemaIn = (c) => c;
const _schemaOutIsInput: (c: SchemaOut) => PipelineConfigInput = (c) => c;
void _inputIsSchemaIn;
void _schemaOutIsInput;

/** One problem in a config, at a dotted path such as `tiers.ci.subset`. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** A config that does not validate: every problem at once, with its path. */
export class PipelineConfigError extends ValidationError {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`invalid ${source}: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`);
  }
}

/**
 * Validates a config as cairn.config.ts writes it and merges it over the defaults.
 * Throws a PipelineConfigError listing every problem (`source` names where it came from).
 */
export function resolvePipelineConfig(input: unknown, source = 'pipeline config'): PipelineConfig {
  const parsed = pipelineConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new PipelineConfigError(
      source,
      parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }
  const config = mergeConfig(DEFAULT_PIPELINE_CONFIG, parsed.data);
  const problems = crossCheck(config);
  if (problems.length) throw new PipelineConfigError(source, problems);
  return config;
}

function mergeConfig(base: PipelineConfig, input: PipelineConfigInput): PipelineConfig {
  const tiers = {} as Record<Tier, TierConfig>;
  for (const tier of TIERS) tiers[tier] = mergeTier(base.tiers[tier], input.tiers?.[tier]);
  const out: PipelineConfig = { tiers, queuePrefix: input.queuePrefix ?? base.queuePrefix };
  const redisUrl = input.redisUrl ?? base.redisUrl;
  if (redisUrl !== undefined) out.redisUrl = redisUrl;
  return out;
}

function mergeTier(base: TierConfig, input: TierConfigInput | undefined): TierConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  if (!input) return out as unknown as TierConfig;
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (value === null) delete out[key];
    else if (key === 'resources' || key === 'retry') out[key] = { ...(out[key] as object), ...definedOnly(value as object) };
    else if (key === 'champion') out[key] = { alias: 'champion', minImprovement: 0, ...definedOnly(value as object) };
    else out[key] = structuredClone(value);
  }
  return out as unknown as TierConfig;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Rules across fields and tiers, checked on the merged config. */
function crossCheck(config: PipelineConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const tier of TIERS) {
    const t = config.tiers[tier];
    const at = (field: string) => `tiers.${tier}.${field}`;
    if (t.promotesTo !== undefined) {
      if (t.promotesTo === tier) problems.push({ path: at('promotesTo'), message: `a tier cannot promote to itself` });
      else if (t.gate === undefined) problems.push({ path: at('promotesTo'), message: `promoting needs a gate to decide it; set tiers.${tier}.gate or promotesTo: null` });
    }
    if (t.candidatesFrom !== undefined) {
      if (t.schedule === undefined) problems.push({ path: at('candidatesFrom'), message: `only a scheduled tier takes candidates; set tiers.${tier}.schedule or candidatesFrom: null` });
      if (t.candidatesFrom === tier) problems.push({ path: at('candidatesFrom'), message: 'a tier cannot take candidates from itself' });
      else if (config.tiers[t.candidatesFrom].gate === undefined) {
        problems.push({ path: at('candidatesFrom'), message: `tier ${t.candidatesFrom} has no gate, so no run of it ever passes; give it a gate or set candidatesFrom: null` });
      }
    }
  }
  // A promotesTo chain that comes back to where it started would enqueue forever.
  const reported = new Set<Tier>();
  for (const start of TIERS) {
    if (reported.has(start)) continue;
    const chain: Tier[] = [start];
    let next = config.tiers[start].promotesTo;
    while (next !== undefined && !chain.includes(next)) {
      chain.push(next);
      next = config.tiers[next].promotesTo;
    }
    if (next === start && chain.length > 1) {
      for (const t of chain) reported.add(t);
      problems.push({ path: `tiers.${start}.promotesTo`, message: `promotion goes round in a circle: ${[...chain, start].join(' → ')}` });
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// loading

/** The config file at `rootDir`, or null when there is none. */
export function findPipelineConfigFile(rootDir: string): string | null {
  for (const name of CONFIG_FILES) {
    const file = join(resolve(rootDir), name);
    if (existsSync(file)) return file;
  }
  return null;
}

/**
 * Loads `cairn.config.ts` (or .mts, .js, .mjs; first found) from `rootDir`, validates
 * it and merges it over the defaults; without one, the defaults. TypeScript configs
 * need the process to run under tsx, as the CLI and workers do. Every problem is one
 * PipelineConfigError (a ValidationError); a file that fails to import is a
 * ValidationError saying so.
 */
export async function loadPipelineConfig(rootDir: string): Promise<PipelineConfig> {
  const file = findPipelineConfigFile(rootDir);
  if (file === null) return resolvePipelineConfig({});
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (e) {
    throw new ValidationError(`${file} failed to load: ${(e as Error).message}`, { cause: e });
  }
  if (mod.default === undefined) {
    throw new PipelineConfigError(file, [{ path: '', message: 'it has no default export (write `export default defineConfig({ ... })`)' }]);
  }
  return resolvePipelineConfig(mod.default, file);
}

// ---------------------------------------------------------------------------
// using it

/**
 * The engine's settings for one tier: what runTraining's `{ subset, epochs,
 * timeBudgetMs, policies }` should be for `tier`.
 *
 * Precedence, lowest first: the engine's TIER_DEFAULTS, then cairn.config.ts (over
 * DEFAULT_PIPELINE_CONFIG, which sets every field but `epochs` outside ci), then the
 * definition's own `tiers[tier]` (`definitionTiers`). The definition wins because it
 * is the more specific: the model's author knows how much of their data a smoke test
 * needs, how many epochs the model takes and which policies suit its objective
 * (`policies` replaces the config's list; it is not added to it). The one exception is
 * `timeBudgetMs`: the budget is the operator's limit that queues and workers are sized
 * to, so a definition may shorten it but never lengthen it.
 */
export function tierSettingsFor(config: PipelineConfig, tier: Tier, definitionTiers?: TrainingDefinition['tiers']): TierSettings & { subset: number; timeBudgetMs: number; policies: PolicySpec[] } {
  const t = config.tiers[tier];
  const own = definitionTiers?.[tier] ?? {};
  const epochs = own.epochs ?? t.epochs;
  return {
    subset: own.subset ?? t.subset,
    ...(epochs !== undefined ? { epochs } : {}),
    timeBudgetMs: own.timeBudgetMs !== undefined ? Math.min(own.timeBudgetMs, t.timeBudgetMs) : t.timeBudgetMs,
    policies: structuredClone(own.policies ?? t.policies),
  };
}

/**
 * The definition with `tiers[tier]` replaced by tierSettingsFor's settings, so that
 * `runTraining({ definition, tier })` trains with exactly them: runTraining spreads
 * the definition's tier over TIER_DEFAULTS, and these settings set every field it
 * reads (epochs too whenever the config or the definition gives it).
 */
export function definitionForTier<D extends TrainingDefinition>(definition: D, config: PipelineConfig, tier: Tier): D {
  return { ...definition, tiers: { ...definition.tiers, [tier]: tierSettingsFor(config, tier, definition.tiers) } };
}

/**
 * The filter a scheduled tier's job uses to pick its code: finished runs of
 * `candidatesFrom` whose gate for that tier passed, as the pipeline recorded it
 * (`gate.<tier>` reads the store's gate results, never tags). Search with it, newest
 * first (`orderBy: ['ended desc']`, limit 1), within the definition's experiment. Null
 * when the tier takes no candidates.
 */
export function candidateFilter(config: PipelineConfig, tier: Tier): string | null {
  const from = config.tiers[tier].candidatesFrom;
  if (from === undefined) return null;
  // `from` is one of TIERS (the config schema refuses anything else), so it needs no quoting.
  return `tier = '${from}' AND status = 'finished' AND gate.${from} = 'passed'`;
}

/** What happens when a run of `tier` passes its gate. */
export type Promotion = { kind: 'enqueue'; tier: Tier } | { kind: 'eligible'; tiers: Tier[] };

/**
 * What a passed gate of `tier` leads to: the tier it enqueues at once (promotesTo),
 * and/or the scheduled tiers it makes the code a candidate for (their candidatesFrom).
 */
export function promotionsFor(config: PipelineConfig, tier: Tier): Promotion[] {
  const out: Promotion[] = [];
  const to = config.tiers[tier].promotesTo;
  if (to !== undefined) out.push({ kind: 'enqueue', tier: to });
  const scheduled = TIERS.filter((t) => config.tiers[t].candidatesFrom === tier);
  if (scheduled.length) out.push({ kind: 'eligible', tiers: scheduled });
  return out;
}

// ---------------------------------------------------------------------------
// cron

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** The first name's number (months count from 1). */
  nameBase?: number;
  question?: boolean;
}

const CRON_FIELDS: CronField[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, question: true },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0, question: true },
];

/**
 * Why a cron pattern is unusable, or null. Accepts the common syntax BullMQ's parser
 * reads: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first;
 * each field `*`, a number, a range `a-b`, any of these with a step `/n`, or a comma
 * list of them; month and weekday names (JAN, MON); `?` for either day field; weekday
 * 7 is Sunday. The rarer L, W and # forms are refused.
 */
export function cronError(pattern: string): string | null {
  const parts = pattern.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return `a cron pattern has 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got ${parts.length} in ${show(pattern)}`;
  }
  const fields = parts.length === 6 ? CRON_FIELDS : CRON_FIELDS.slice(1);
  for (let i = 0; i < parts.length; i++) {
    const err = cronFieldError(parts[i]!, fields[i]!);
    if (err) return `${err} in cron pattern ${show(pattern)}`;
  }
  return null;
}

function cronFieldError(text: string, f: CronField): string | null {
  const bad = (why: string) => `${f.name} ${show(text)}: ${why}`;
  if (text === '?' && f.question) return null;
  for (const item of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(item);
    if (!m) return bad(`cannot read ${show(item)}`);
    const [, range, step] = m;
    if (step !== undefined && Number(step) < 1) return bad('a step must be at least 1');
    if (range === '*') continue;
    const ends = range!.split('-');
    if (ends.length > 2) return bad(`cannot read ${show(item)}`);
    const values: number[] = [];
    for (const end of ends) {
      const v = cronValue(end, f);
      if (v === null) return bad(`${show(end)} is not a ${f.name} (${f.min}-${f.max}${f.names ? ` or ${f.names[0]}-${f.names.at(-1)}` : ''})`);
      values.push(v);
    }
    if (values.length === 2 && values[0]! > values[1]!) return bad(`the range ${show(range)} runs backwards`);
  }
  return null;
}

function cronValue(text: string, f: CronField): number | null {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= f.min && n <= f.max ? n : null;
  }
  const i = f.names?.indexOf(text.toUpperCase()) ?? -1;
  return i >= 0 ? i + f.nameBase! : null;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
