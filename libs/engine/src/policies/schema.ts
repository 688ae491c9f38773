import { z } from 'zod';
import { ValidationError, formatZodError } from '@cairn/schema';
import type { PolicySpec } from '../types.ts';

/** The policy kinds, in the order messages list them. */
export const POLICY_KINDS = ['nan', 'time-budget', 'plateau', 'trend', 'median', 'bandit'] as const satisfies readonly PolicySpec['kind'][];

/**
 * A finite number whose every failure (missing, wrong type, NaN/Infinity, out of range)
 * reads "must be <what>", so a user sees the rule rather than zod's type jargon.
 */
function num(what: string) {
  return z.number({ error: (iss) => (iss.input === undefined ? `required: ${what}` : `must be ${what}, got ${show(iss.input)}`) });
}

/** "must be <what>, got <input>" for a bound or integer check. */
function must(what: string) {
  return { error: (iss: { input?: unknown }) => `must be ${what}, got ${show(iss.input)}` };
}

function int(what: string, min: number) {
  return num(what).int(must(what)).min(min, must(what));
}

/** A strict object for one kind: an unknown option is named along with the allowed ones. */
function kindSchema<K extends string, S extends z.ZodRawShape>(kind: K, shape: S) {
  const allowed = Object.keys(shape);
  return z.strictObject(
    { kind: z.literal(kind), ...shape },
    {
      error: (iss) => {
        if (iss.code !== 'unrecognized_keys') return undefined;
        const keys = iss.keys.map((k) => JSON.stringify(k)).join(', ');
        const options = allowed.length ? `allowed: ${allowed.join(', ')}` : 'it takes no options';
        return `unknown option${iss.keys.length > 1 ? 's' : ''} ${keys} for a ${kind} policy (${options})`;
      },
    },
  );
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

const minEvaluations = int('a whole number ≥ 1 (evaluations before the policy may act)', 1).optional();

/**
 * Validates policy specs as users write them and queues carry them. Objects are strict:
 * a misspelt option ("patiance") is an error rather than a silently default policy.
 * Bounds, and why:
 * - time-budget.ms > 0: a zero budget would abandon every run at its first check.
 * - plateau.patience: integer ≥ 1 evaluations; minDelta ≥ 0 (a negative delta would
 *   count getting worse as improvement).
 * - trend.window: integer ≥ 3 (a slope through two points is just their difference, and
 *   noise alone would decide); minSlope ≥ 0 is a tolerance against noise, not a rate the
 *   objective must improve at (plateau covers "not improving").
 * - bandit.slack ≥ 0 (a negative slack would abandon runs better than the best).
 * - minEvaluations: integer ≥ 1.
 */
export const policySpecSchema = z.discriminatedUnion(
  'kind',
  [
    kindSchema('nan', {}),
    kindSchema('time-budget', { ms: num('a number of milliseconds > 0').gt(0, must('a number of milliseconds > 0')) }),
    kindSchema('plateau', {
      patience: int('a whole number ≥ 1 (evaluations without improvement)', 1),
      minDelta: num('a number ≥ 0 (the smallest change that counts as improvement)').min(0, must('a number ≥ 0 (the smallest change that counts as improvement)')).optional(),
    }),
    kindSchema('trend', {
      window: int('a whole number ≥ 3 (evaluations the slope is fitted over)', 3),
      minSlope: num('a number ≥ 0 (slope per step tolerated in the wrong direction)').min(0, must('a number ≥ 0 (slope per step tolerated in the wrong direction)')).optional(),
    }),
    kindSchema('median', { minEvaluations }),
    kindSchema('bandit', {
      slack: num('a number ≥ 0 (e.g. 0.1 allows 10% worse than the best run)').min(0, must('a number ≥ 0 (e.g. 0.1 allows 10% worse than the best run)')),
      minEvaluations,
    }),
  ],
  {
    error: (iss) => {
      if (iss.code === 'invalid_union') {
        const kind = (iss.input as { kind?: unknown } | undefined)?.kind;
        const got = kind === undefined ? 'it is missing' : `got ${show(kind)}`;
        return `must be one of ${POLICY_KINDS.join(', ')} (${got})`;
      }
      if (iss.code === 'invalid_type') return `a policy spec must be an object like { kind: 'plateau', patience: 5 }, got ${show(iss.input)}`;
      return undefined;
    },
  },
);

// The schema's output must be a PolicySpec, and every PolicySpec must be accepted by its shape.
type Out = z.output<typeof policySpecSchema>;
const _outIsSpec: (o: Out) => PolicySpec = (o) => o;
const _specIsIn: (s: PolicySpec) => z.input<typeof policySpecSchema> = (s) => s;
void _outIsSpec;
void _specIsIn;

/**
 * Parses one policy spec from untrusted input; throws a ValidationError whose message
 * names the field and the rule, e.g. "invalid policy spec: patience: must be a whole
 * number ≥ 1 (evaluations without improvement)". `what` prefixes the message.
 */
export function parsePolicySpec(input: unknown, what = 'policy spec'): PolicySpec {
  const r = policySpecSchema.safeParse(input);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${formatZodError(r.error)}`, { cause: r.error });
  return r.data;
}

/** Parses a list of specs; messages name the failing one by position ("policy spec #2"). */
export function parsePolicySpecs(input: unknown): PolicySpec[] {
  if (!Array.isArray(input)) throw new ValidationError(`invalid policy specs: expected an array of policy specs, got ${show(input)}`);
  return input.map((s, i) => parsePolicySpec(s, `policy spec #${i + 1}`));
}

export type SpecOf<K extends PolicySpec['kind']> = Extract<PolicySpec, { kind: K }>;
/** A spec's options: the spec without its kind. */
export type ParamsOf<K extends PolicySpec['kind']> = Omit<SpecOf<K>, 'kind'>;

/** Validates a factory's params as the spec of `kind` (factories called directly are checked too). */
export function specOf<K extends PolicySpec['kind']>(kind: K, params: ParamsOf<K> | undefined): SpecOf<K> {
  const { kind: _ignored, ...rest } = (params ?? {}) as ParamsOf<K> & { kind?: unknown };
  return parsePolicySpec({ ...rest, kind }, `${kind} policy`) as SpecOf<K>;
}
