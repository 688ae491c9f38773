import { z } from 'zod';
import { CairnError, ValidationError } from '@cairn/schema';
import { TIERS, policySpecSchema, type Tier } from '@cairn/engine';
import { parseFilter } from '@cairn/store';
import { cronError } from './cron.ts';
import { DEFAULT_PIPELINE_CONFIG, MAX_PRIORITY, type PipelineConfig, type PipelineConfigInput, type TierConfig, type TierConfigInput } from './defaults.ts';
import { show } from './show.ts';

/*
 * cairn.config.ts checked (zod, every problem at once with its path) and merged over the
 * defaults.
 */

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

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}
