import { z } from 'zod';
import { ValidationError, formatZodError } from '@cairn/schema';
import { gridStrategy } from './grid.ts';
import { randomStrategy } from './random.ts';
import type { SearchSpace } from './space.ts';
import { tpeStrategy } from './tpe.ts';
import { STRATEGY_KINDS, type Direction, type Strategy, type StrategyKind, type StrategySpec, show } from './common.ts';

export {
  DEFAULT_GRID_POINTS,
  DEFAULT_MAX_GRID_SIZE,
  STRATEGY_KINDS,
  TPE_DEFAULTS,
  isBetter,
  type Direction,
  type GridSpec,
  type ProposeContext,
  type RandomSpec,
  type Strategy,
  type StrategyKind,
  type StrategySpec,
  type TpeSpec,
  type TrialResult,
  type TrialStatus,
} from './common.ts';

function must(what: string) {
  return { error: (iss: { input?: unknown }) => `must be ${what}, got ${show(iss.input)}` };
}

function int(what: string, min: number, max: number) {
  return z.number(must(what)).int(must(what)).min(min, must(what)).max(max, must(what));
}

function kindSchema<K extends StrategyKind, S extends z.ZodRawShape>(kind: K, shape: S) {
  const allowed = Object.keys(shape);
  return z.strictObject(
    { kind: z.literal(kind), ...shape },
    {
      error: (iss) => {
        if (iss.code !== 'unrecognized_keys') return undefined;
        const keys = iss.keys.map((k) => JSON.stringify(k)).join(', ');
        const options = allowed.length ? `allowed: ${allowed.join(', ')}` : 'it takes no options';
        return `unknown option${iss.keys.length > 1 ? 's' : ''} ${keys} for the ${kind} strategy (${options})`;
      },
    },
  );
}

/**
 * Strategy specs as sweeps store them. Bounds, and why:
 * - grid.gridPoints: 2..1000 values per uniform/loguniform parameter (one value would
 *   not be a grid; it is min). maxGridSize: the refusal cap, 1..1,000,000.
 * - tpe.startup ≥ 1 random trials before the model (it needs results to split);
 *   gamma in (0, 1), the fraction of results counted as good; candidates 1..10,000
 *   draws from the good density per proposal; priorWeight > 0 (the prior keeps both
 *   densities positive over the whole range, so l/g is always defined).
 */
export const strategySpecSchema = z.discriminatedUnion(
  'kind',
  [
    kindSchema('grid', {
      gridPoints: int('a whole number from 2 to 1000 (values per uniform/loguniform parameter)', 2, 1000).optional(),
      maxGridSize: int('a whole number from 1 to 1000000 (the largest grid allowed)', 1, 1_000_000).optional(),
    }),
    kindSchema('random', {}),
    kindSchema('tpe', {
      startup: int('a whole number from 1 to 10000 (random trials before the model)', 1, 10_000).optional(),
      gamma: z.number(must('a number between 0 and 1, exclusive (fraction of trials counted as good)')).gt(0, must('a number between 0 and 1, exclusive (fraction of trials counted as good)')).lt(1, must('a number between 0 and 1, exclusive (fraction of trials counted as good)')).optional(),
      candidates: int('a whole number from 1 to 10000 (draws per proposal)', 1, 10_000).optional(),
      priorWeight: z.number(must('a number > 0')).gt(0, must('a number > 0')).optional(),
    }),
  ],
  {
    error: (iss) => {
      if (iss.code === 'invalid_union') {
        const kind = (iss.input as { kind?: unknown } | undefined)?.kind;
        const got = kind === undefined ? 'it is missing' : `got ${show(kind)}`;
        return `strategy must be one of ${STRATEGY_KINDS.join(', ')} (${got})`;
      }
      if (iss.code === 'invalid_type') return `a strategy must be a name or an object like { kind: 'tpe', startup: 10 }, got ${show(iss.input)}`;
      return undefined;
    },
  },
);

const _outIsSpec: (o: z.output<typeof strategySpecSchema>) => StrategySpec = (o) => o;
const _specIsIn: (s: StrategySpec) => z.input<typeof strategySpecSchema> = (s) => s;
void _outIsSpec;
void _specIsIn;

/** Parses a strategy spec; a bare name ('grid', 'random', 'tpe') means its defaults. */
export function parseStrategySpec(input: unknown): StrategySpec {
  const spec = typeof input === 'string' ? { kind: input } : input;
  const r = strategySpecSchema.safeParse(spec);
  if (!r.success) throw new ValidationError(`invalid strategy: ${formatZodError(r.error)}`, { cause: r.error });
  return r.data;
}

export interface StrategyOptions {
  /** Any safe integer; both 32-bit halves count. */
  seed: number;
  /** Required by tpe; grid and random ignore it. */
  direction?: Direction;
}

/** Builds the strategy a spec names, for an already parsed space. */
export function createStrategy(space: SearchSpace, spec: StrategySpec | StrategyKind, options: StrategyOptions): Strategy {
  const s = parseStrategySpec(spec);
  if (!Number.isSafeInteger(options.seed)) throw new ValidationError(`invalid seed: must be a safe integer, got ${show(options.seed)}`);
  switch (s.kind) {
    case 'grid':
      return gridStrategy(space, s);
    case 'random':
      return randomStrategy(space, options.seed);
    case 'tpe': {
      if (options.direction !== 'minimize' && options.direction !== 'maximize') {
        throw new ValidationError(`a tpe sweep needs the objective's direction ('minimize' or 'maximize'), got ${show(options.direction)}`);
      }
      return tpeStrategy(space, s, options.seed, options.direction);
    }
  }
}

