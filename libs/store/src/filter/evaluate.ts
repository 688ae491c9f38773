import type { CompareOp, FieldRef, FilterExpr, GateVerdict, Literal, Predicate } from './ast.ts';
import { paramValueNum } from './numeric.ts';
import { validateFilter } from './validate.ts';

/**
 * Evaluates a filter in memory with the same meaning as `compileFilter`'s SQL
 * (promotion gates use it; tests cross-check the two). The rules, shared with SQL:
 * - every comparison (including !=, NOT IN, NOT LIKE) needs the field to be
 *   present; only the NOT operator and IS NULL select runs without it;
 * - a param compared with a number uses its numeric value (`paramValueNum`),
 *   so non-numeric params never match a numeric comparison;
 * - a NaN metric matches no comparison (but IS NOT NULL);
 * - text ordering compares code points, as COLLATE "C" does.
 * Known differences: timestamps here have millisecond precision (PostgreSQL keeps
 * microseconds), and ILIKE folds case with Unicode rules while PostgreSQL follows
 * the database locale; both agree on ASCII.
 */

export interface MetricValues {
  last: number;
  min: number | null;
  max: number | null;
  count: number;
}

/** What a filter can read about a run. `id`, `experimentId`, `started`, `ended` and `gates` may be left out when unused. */
export interface FilterRow {
  id?: string;
  experimentId?: string;
  status: string;
  tier: string | null;
  name: string;
  created: Date;
  started?: Date | null;
  ended?: Date | null;
  params: Record<string, string>;
  metrics: Record<string, MetricValues>;
  tags: Record<string, string>;
  /** The gate verdicts the pipeline recorded, by tier (the store's gate_results); none when left out. */
  gates?: Record<string, GateVerdict>;
}

/**
 * The row of a run as the store returns it (`RunDetail`), with its recorded gate verdicts
 * (`store.listGateResults`) when the filter may name `gate.<tier>`.
 */
export function filterRowFromRun(run: {
  id: string;
  experimentId: string;
  status: string;
  tier: string | null;
  name: string;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  params: Record<string, string>;
  metrics: Record<string, MetricValues>;
  tags: Record<string, string>;
}, gates: readonly { tier: string; passed: boolean }[] = []): FilterRow {
  return {
    gates: Object.fromEntries(gates.map((g) => [g.tier, g.passed ? 'passed' : 'failed'])),
    id: run.id,
    experimentId: run.experimentId,
    status: run.status,
    tier: run.tier,
    name: run.name,
    created: run.createdAt,
    started: run.startedAt,
    ended: run.endedAt,
    params: run.params,
    metrics: run.metrics,
    tags: run.tags,
  };
}

export function evaluateFilter(expr: FilterExpr | null, row: FilterRow): boolean {
  if (expr === null) return true;
  validateFilter(expr);
  return evaluate(expr, row);
}

function evaluate(e: FilterExpr, row: FilterRow): boolean {
  switch (e.type) {
    case 'and':
      return e.items.every((item) => evaluate(item, row));
    case 'or':
      return e.items.some((item) => evaluate(item, row));
    case 'not':
      return !evaluate(e.item, row);
    default:
      return predicate(e, row);
  }
}

/** The field's value; undefined when the run does not have it. Own properties only, so `params.constructor` is just a key. */
function read(field: FieldRef, row: FilterRow): string | number | Date | undefined {
  const own = <T>(record: Record<string, T>, key: string): T | undefined =>
    Object.hasOwn(record, key) ? record[key] : undefined;
  switch (field.kind) {
    case 'param':
      return own(row.params, field.key);
    case 'tag':
      return own(row.tags, field.key);
    case 'gate':
      return row.gates ? own(row.gates, field.tier) : undefined;
    case 'metric':
      return own(row.metrics, field.key)?.[field.agg] ?? undefined;
    case 'attribute': {
      const value = {
        status: row.status,
        tier: row.tier,
        name: row.name,
        created: row.created,
        started: row.started,
        ended: row.ended,
        id: row.id,
        experiment: row.experimentId,
      }[field.name];
      return value ?? undefined;
    }
  }
}

function predicate(e: Predicate, row: FilterRow): boolean {
  const value = read(e.field, row);
  switch (e.type) {
    case 'isNull':
      return e.negated ? value !== undefined : value === undefined;
    case 'compare':
      return compare(value, e.op, e.value);
    case 'in':
      // x IN (a, b) is x = a OR x = b; x NOT IN (a, b) is x != a AND x != b, each needing x present.
      return e.negated ? e.values.every((v) => compare(value, '!=', v)) : e.values.some((v) => compare(value, '=', v));
    case 'like': {
      if (typeof value !== 'string') return false;
      const matches = likeRegExp(e.pattern, e.caseInsensitive).test(value);
      return e.negated ? !matches : matches;
    }
  }
}

function compare(value: string | number | Date | undefined, op: CompareOp, literal: Literal): boolean {
  if (value === undefined) return false;
  if (value instanceof Date) return order(value.getTime(), op, Date.parse(literal as string));
  if (typeof value === 'number') return order(value, op, literal as number);
  // A string field: a param against a number compares its numeric value; otherwise text.
  if (typeof literal === 'number') {
    const n = paramValueNum(value);
    return n !== null && order(n, op, literal);
  }
  if (op === '=' || op === '!=') return (value === literal) === (op === '=');
  return order(compareCodePoints(value, literal), op, 0);
}

/** `a op b` for numbers; any NaN makes it false, `!=` included (see the header). */
function order(a: number, op: CompareOp, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** Code point order, which is UTF-8 byte order and so PostgreSQL's COLLATE "C" (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** A LIKE pattern as a RegExp: % is any run, _ any one character, a backslash makes the next character literal. */
function likeRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  let source = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') source += escapeRegExp(chars[++i] ?? '');
    else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, caseInsensitive ? 'isu' : 'su');
}

function escapeRegExp(c: string): string {
  // Only syntax characters: in unicode mode escaping anything else is an error.
  return c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
