import { RUN_STATUSES } from '@cairn/schema';
import fc from 'fast-check';
import { AGGREGATES, COMPARE_OPS, GATE_VERDICTS, type Attribute, type FieldRef, type FilterExpr, type Literal, type Predicate } from './ast.ts';
import { operationError, patternError, valueError } from './validate.ts';

/**
 * fast-check arbitraries for valid filter ASTs, shared by the printer property
 * test and the database cross-check (which narrows keys and values so that
 * filters actually hit its data). Test support only; not exported from index.ts.
 */

/** Characters that stress quoting: quotes, backslashes, backticks, LIKE wildcards, dots, non-ASCII. */
const trickyChar = fc.oneof(
  fc.constantFrom("'", '"', '\\', '`', '%', '_', ' ', '.', '-', '/', ':', 'é', 'ß', '😀', '\n', '\t'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
);
const noNul = (s: string) => !s.includes('\0');

export const trickyString = fc.array(trickyChar, { maxLength: 8 }).map((cs) => cs.join('')).filter(noNul);

/** Keys: bare-looking ones (with aggregate-like segments) and anything else. */
export const trickyKey = fc
  .oneof(
    fc.stringMatching(/^[A-Za-z0-9_:/-]{1,6}(\.[A-Za-z0-9_:/-]{1,4}){0,2}$/),
    fc.constantFrom('max', 'a.max', 'a.min.count', 'x.last', '.', '..', 'a.', '.a', '`', 'a b', 'AND', 'status', '1e3', '-1'),
    trickyString,
  )
  .filter((k) => k.length > 0);

/** Finite numbers, with -0 folded to 0 as the lexer does. */
export const finiteNumber = fc
  .oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -1000, max: 1000 }))
  .map((n) => (n === 0 ? 0 : n));

export const isoTimestamp = fc
  .date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

export interface FilterArbitraryOptions {
  paramKey?: fc.Arbitrary<string>;
  metricKey?: fc.Arbitrary<string>;
  tagKey?: fc.Arbitrary<string>;
  /** Tiers of `gate.<tier>` fields; null: no gate fields. */
  gateTier?: fc.Arbitrary<string> | null;
  attributes?: readonly Attribute[];
  number?: fc.Arbitrary<number>;
  string?: fc.Arbitrary<string>;
  pattern?: fc.Arbitrary<string>;
  timestamp?: fc.Arbitrary<string>;
  maxDepth?: number;
}

export function filterArbitrary(options: FilterArbitraryOptions = {}): fc.Arbitrary<FilterExpr> {
  const number = options.number ?? finiteNumber;
  const string = options.string ?? trickyString;
  const timestamp = options.timestamp ?? isoTimestamp;
  const pattern = (options.pattern ?? string).filter((p) => patternError(p) === null);

  const gateTier = options.gateTier === undefined ? trickyKey : options.gateTier;
  const field: fc.Arbitrary<FieldRef> = fc.oneof(
    (options.paramKey ?? trickyKey).map((key) => ({ kind: 'param' as const, key })),
    (options.tagKey ?? trickyKey).map((key) => ({ kind: 'tag' as const, key })),
    ...(gateTier ? [gateTier.map((tier) => ({ kind: 'gate' as const, tier }))] : []),
    fc.tuple(options.metricKey ?? trickyKey, fc.constantFrom(...AGGREGATES)).map(([key, agg]) => ({ kind: 'metric' as const, key, agg })),
    fc.constantFrom(...(options.attributes ?? (['status', 'tier', 'name', 'created', 'started', 'ended', 'id', 'experiment'] as const))).map(
      (name) => ({ kind: 'attribute' as const, name }),
    ),
  );

  // A value of the right kind for the field (the parser would refuse any other).
  const literalFor = (f: FieldRef): fc.Arbitrary<Literal> => {
    if (f.kind === 'metric') return number;
    if (f.kind === 'param') return fc.oneof(number, string);
    if (f.kind === 'attribute' && f.name === 'status') return fc.constantFrom(...RUN_STATUSES);
    if (f.kind === 'gate') return fc.constantFrom(...GATE_VERDICTS);
    if (f.kind === 'attribute' && ['created', 'started', 'ended'].includes(f.name)) return timestamp;
    return string;
  };

  const predicate: fc.Arbitrary<Predicate> = field
    .chain((f): fc.Arbitrary<Predicate> =>
      fc.oneof(
        fc.tuple(fc.constantFrom(...COMPARE_OPS), literalFor(f)).map(([op, value]) => ({ type: 'compare' as const, field: f, op, value })),
        fc.tuple(fc.array(literalFor(f), { minLength: 1, maxLength: 4 }), fc.boolean()).map(([values, negated]) => ({
          type: 'in' as const,
          field: f,
          values,
          negated,
        })),
        fc.tuple(pattern, fc.boolean(), fc.boolean()).map(([p, caseInsensitive, negated]) => ({
          type: 'like' as const,
          field: f,
          pattern: p,
          caseInsensitive,
          negated,
        })),
        fc.boolean().map((negated) => ({ type: 'isNull' as const, field: f, negated })),
      ),
    )
    .filter((p) => {
      const op = p.type === 'compare' ? p.op : p.type;
      const values = p.type === 'compare' ? [p.value] : p.type === 'in' ? p.values : [];
      return operationError(p.field, op) === null && values.every((v) => valueError(p.field, v) === null);
    });

  const { expr } = fc.letrec<{ expr: FilterExpr }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', maxDepth: options.maxDepth ?? 4 },
      predicate,
      fc.array(tie('expr'), { minLength: 2, maxLength: 4 }).map((items) => ({ type: 'and' as const, items })),
      fc.array(tie('expr'), { minLength: 2, maxLength: 4 }).map((items) => ({ type: 'or' as const, items })),
      tie('expr').map((item) => ({ type: 'not' as const, item })),
    ),
  }));
  return expr;
}
