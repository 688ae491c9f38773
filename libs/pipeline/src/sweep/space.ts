import { z } from 'zod';
import { ValidationError, formatZodError } from '@cairn/schema';

/**
 * Search spaces for sweeps, as users write them in JSON:
 *
 *   { "lr":      { "type": "loguniform", "min": 1e-4, "max": 1e-1 },
 *     "units":   { "type": "int", "min": 8, "max": 128, "step": 8 },
 *     "opt":     { "type": "choice", "values": ["adam", "sgd"] },
 *     "dropout": { "type": "uniform", "min": 0, "max": 0.5 } }
 *
 * - uniform: a real number in [min, max], min < max.
 * - loguniform: a real number in [min, max] whose logarithm is uniform, 0 < min < max.
 * - int: the integers min, min + step, … up to max (max itself only when it is on that
 *   lattice); min < max, both integers, step a whole number ≥ 1 (default 1).
 * - choice: one of `values` (strings, finite numbers or booleans), non-empty, distinct.
 *
 * Parameter order is canonical: parseSearchSpace returns the names sorted (by UTF-16
 * code units), and every strategy walks `paramNames(space)`, never the object's own key
 * order. A space stored in PostgreSQL jsonb (which reorders keys) and read back after a
 * restart therefore enumerates the same grid and draws the same random params.
 */

export const PARAM_TYPES = ['choice', 'uniform', 'loguniform', 'int'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export type ChoiceValue = string | number | boolean;
export type ParamValue = ChoiceValue;
/** One trial's params: name → value. */
export type Params = Record<string, ParamValue>;

export interface ChoiceParam {
  type: 'choice';
  values: ChoiceValue[];
}
export interface UniformParam {
  type: 'uniform';
  min: number;
  max: number;
}
export interface LogUniformParam {
  type: 'loguniform';
  min: number;
  max: number;
}
export interface IntParam {
  type: 'int';
  min: number;
  max: number;
  step?: number;
}
export type ParamSpec = ChoiceParam | UniformParam | LogUniformParam | IntParam;
export type SearchSpace = Record<string, ParamSpec>;

export const PARAM_NAME_RE = /^[A-Za-z_][\w.-]*$/;
export const MAX_PARAMS = 100;
export const MAX_CHOICES = 1000;

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

/** A finite number whose every failure reads "<field> must be <what>, got <input>". */
function num(field: string, what = 'a finite number') {
  return z.number({ error: (iss) => (iss.input === undefined ? `${field} is required (${what})` : `${field} must be ${what}, got ${show(iss.input)}`) });
}

function paramObject<T extends ParamType, S extends z.ZodRawShape>(type: T, shape: S) {
  const allowed = ['type', ...Object.keys(shape)];
  return z.strictObject(
    { type: z.literal(type), ...shape },
    {
      error: (iss) => {
        if (iss.code !== 'unrecognized_keys') return undefined;
        const keys = iss.keys.map((k) => JSON.stringify(k)).join(', ');
        return `unknown field${iss.keys.length > 1 ? 's' : ''} ${keys} for a ${type} parameter (allowed: ${allowed.join(', ')})`;
      },
    },
  );
}

function minBelowMax(v: { min: number; max: number }, ctx: z.RefinementCtx): void {
  if (!(v.min < v.max)) ctx.addIssue({ code: 'custom', message: `min must be less than max, got min ${v.min} and max ${v.max}` });
}

const choiceValue = z.union([z.string().max(200, 'choice strings must be at most 200 characters'), z.number(), z.boolean()], {
  error: (iss) => `choice values must be strings, finite numbers or booleans, got ${show(iss.input)}`,
});

const choiceSchema = paramObject('choice', {
  values: z
    .array(choiceValue, { error: (iss) => `values must be an array of choices, got ${show(iss.input)}` })
    .min(1, 'values must not be empty: list at least one choice')
    .max(MAX_CHOICES, `values may list at most ${MAX_CHOICES} choices`),
}).superRefine((v, ctx) => {
  const seen = new Set<string>();
  for (const x of v.values) {
    const key = JSON.stringify(x);
    if (seen.has(key)) {
      ctx.addIssue({ code: 'custom', path: ['values'], message: `values must be distinct: ${show(x)} appears more than once` });
      return;
    }
    seen.add(key);
  }
});

const uniformSchema = paramObject('uniform', { min: num('min'), max: num('max') }).superRefine(minBelowMax);

const logUniformSchema = paramObject('loguniform', {
  min: num('min').gt(0, { error: (iss) => `loguniform min must be greater than 0 (its logarithm is sampled), got ${show(iss.input)}` }),
  max: num('max'),
}).superRefine(minBelowMax);

const intSchema = paramObject('int', {
  min: num('min', 'an integer').int({ error: (iss) => `min must be an integer, got ${show(iss.input)}` }),
  max: num('max', 'an integer').int({ error: (iss) => `max must be an integer, got ${show(iss.input)}` }),
  step: num('step', 'a whole number ≥ 1')
    .int({ error: (iss) => `step must be a whole number ≥ 1, got ${show(iss.input)}` })
    .min(1, { error: (iss) => `step must be a whole number ≥ 1, got ${show(iss.input)}` })
    .optional(),
}).superRefine((v, ctx) => {
  minBelowMax(v, ctx);
  if (v.min < v.max && v.step !== undefined && v.step > v.max - v.min) {
    ctx.addIssue({ code: 'custom', path: ['step'], message: `step ${v.step} is larger than max - min (${v.max - v.min}): the range would hold only min` });
  }
});

export const paramSpecSchema = z.discriminatedUnion('type', [choiceSchema, uniformSchema, logUniformSchema, intSchema], {
  error: (iss) => {
    if (iss.code === 'invalid_union') {
      const type = (iss.input as { type?: unknown } | undefined)?.type;
      const got = type === undefined ? 'it is missing' : `got ${show(type)}`;
      return `type must be one of ${PARAM_TYPES.join(', ')} (${got})`;
    }
    if (iss.code === 'invalid_type') return `a parameter must be an object like { "type": "uniform", "min": 0, "max": 1 }, got ${show(iss.input)}`;
    return undefined;
  },
});

const nameSchema = z.string().regex(PARAM_NAME_RE);

export const searchSpaceSchema = z
  .record(nameSchema, paramSpecSchema, {
    error: (iss) => {
      if (iss.code === 'invalid_key') {
        return `invalid parameter name: it must start with a letter or _ and hold only letters, digits, _, . and - (${PARAM_NAME_RE})`;
      }
      if (iss.code === 'invalid_type') return `a search space must be an object of parameters like { "lr": { "type": "loguniform", "min": 0.0001, "max": 0.1 } }, got ${show(iss.input)}`;
      return undefined;
    },
  })
  .superRefine((v, ctx) => {
    const n = Object.keys(v).length;
    if (n === 0) ctx.addIssue({ code: 'custom', message: 'a search space must define at least one parameter' });
    if (n > MAX_PARAMS) ctx.addIssue({ code: 'custom', message: `a search space may define at most ${MAX_PARAMS} parameters, got ${n}` });
  })
  .transform((v): SearchSpace => {
    const out: SearchSpace = {};
    for (const name of Object.keys(v).sort(byCodeUnits)) out[name] = v[name] as ParamSpec;
    return out;
  });

// The schema's output must be a SearchSpace, and every SearchSpace must fit its input.
const _outIsSpace: (o: z.output<typeof searchSpaceSchema>) => SearchSpace = (o) => o;
const _spaceIsIn: (s: SearchSpace) => z.input<typeof searchSpaceSchema> = (s) => s;
void _outIsSpace;
void _spaceIsIn;

/**
 * Validates a search space from untrusted JSON; throws a ValidationError naming the
 * parameter and the rule ("invalid search space: lr: loguniform min must be greater
 * than 0 …"). The result has its names sorted (see above).
 */
export function parseSearchSpace(json: unknown): SearchSpace {
  const r = searchSpaceSchema.safeParse(json);
  if (!r.success) throw new ValidationError(`invalid search space: ${formatZodError(r.error)}`, { cause: r.error });
  return r.data;
}

export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The space's parameter names in canonical (sorted) order. */
export function paramNames(space: SearchSpace): string[] {
  return Object.keys(space).sort(byCodeUnits);
}

/** How many values an int parameter takes: min, min + step, … ≤ max. */
export function intCount(p: IntParam): number {
  return Math.floor((p.max - p.min) / (p.step ?? 1)) + 1;
}

/**
 * A stable string for a set of params (names sorted), for de-duplication and
 * deterministic tie-breaks.
 */
export function paramsKey(params: Params): string {
  return JSON.stringify(Object.keys(params).sort(byCodeUnits).map((k) => [k, params[k]]));
}
