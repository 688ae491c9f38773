import { RUN_STATUSES, ValidationError } from '@cairn/schema';
import {
  AGGREGATES,
  ATTRIBUTES,
  COMPARE_OPS,
  GATE_VERDICTS,
  NULLABLE_ATTRIBUTES,
  TIMESTAMP_ATTRIBUTES,
  type CompareOp,
  type FieldRef,
  type FilterExpr,
  type Literal,
} from './ast.ts';
import { printField, printLiteral } from './printer.ts';

/**
 * Which operators and values make sense for which fields. The parser calls these
 * with token positions at hand (so errors point at a column); `validateFilter`
 * runs the same rules over an AST built in code, so the compiler and the
 * evaluator never see a combination the parser would have refused.
 */

export type Operation = CompareOp | 'in' | 'like' | 'isNull';

type FieldType = 'number' | 'text' | 'param' | 'status' | 'timestamp' | 'gate';

function fieldType(field: FieldRef): FieldType {
  switch (field.kind) {
    case 'metric':
      return 'number';
    case 'param':
      return 'param';
    case 'tag':
      return 'text';
    case 'gate':
      return 'gate';
    case 'attribute':
      if (field.name === 'status') return 'status';
      return TIMESTAMP_ATTRIBUTES.includes(field.name) ? 'timestamp' : 'text';
  }
}

/** Why `op` cannot apply to `field`, or null when it can. */
export function operationError(field: FieldRef, op: Operation): string | null {
  const name = printField(field);
  const type = fieldType(field);
  if (op === 'isNull') {
    if (field.kind === 'attribute' && !NULLABLE_ATTRIBUTES.includes(field.name)) {
      return `${name} is always set, so IS NULL does not apply to it`;
    }
    return null;
  }
  if (op === 'like' && type === 'number') return `LIKE does not apply to ${name}: metrics are numbers`;
  if (type === 'status' && op !== '=' && op !== '!=' && op !== 'in') {
    return 'status supports only =, !=, IN and NOT IN';
  }
  if (type === 'gate' && op !== '=' && op !== '!=' && op !== 'in') {
    return `${name} supports only =, !=, IN, NOT IN and IS [NOT] NULL`;
  }
  if (type === 'timestamp' && (op === 'in' || op === 'like')) {
    return `${name} supports only =, !=, <, <=, >, >= and IS NULL`;
  }
  return null;
}

/** Why `value` cannot be compared with `field`, or null when it can. Expects a normalized value. */
export function valueError(field: FieldRef, value: Literal): string | null {
  const name = printField(field);
  switch (fieldType(field)) {
    case 'number':
      return typeof value === 'number' ? null : `${name} is a number; compare it with a number, not ${printLiteral(value)}`;
    case 'param':
      return null;
    case 'text':
      return typeof value === 'string' ? null : `${name} is text; quote the value: '${value}'`;
    case 'status':
      return typeof value === 'string' && (RUN_STATUSES as readonly string[]).includes(value)
        ? null
        : `unknown status ${printLiteral(value)} (expected one of ${RUN_STATUSES.join(', ')})`;
    case 'gate':
      return typeof value === 'string' && (GATE_VERDICTS as readonly string[]).includes(value)
        ? null
        : `${name} is a gate verdict: compare it with ${GATE_VERDICTS.map((v) => `'${v}'`).join(' or ')}, not ${printLiteral(value)}`;
    case 'timestamp':
      return typeof value === 'string' && parseTimestamp(value)?.toISOString() === value
        ? null
        : `${name} compares with a date such as '2026-01-01' or '2026-01-01T10:00:00Z', not ${printLiteral(value)}`;
  }
}

/**
 * The canonical form of a value the user wrote: statuses are lowercase and
 * timestamps become `toISOString()` text. Values that cannot be normalized are
 * returned as they are, for `valueError` to report.
 */
export function normalizeLiteral(field: FieldRef, value: Literal): Literal {
  const type = fieldType(field);
  if (typeof value !== 'string') return value;
  if (type === 'status' || type === 'gate') return value.toLowerCase();
  if (type === 'timestamp') return parseTimestamp(value)?.toISOString() ?? value;
  return value;
}

/** Why a LIKE pattern is unusable, or null. PostgreSQL rejects a pattern ending in its escape character. */
export function patternError(pattern: string): string | null {
  const trailing = /\\*$/.exec(pattern)![0].length;
  return trailing % 2 === 1 ? 'a LIKE pattern must not end with a lone backslash (write \\\\ for a literal one)' : null;
}

const DATE_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * A strict ISO 8601 date or date-time (`2026-01-01`, `2026-01-01T10:00`,
 * `2026-01-01T10:00:00.5+02:00`). Without a zone the time is UTC, so a filter
 * means the same on every machine. Invalid days (`2026-02-30`) and years outside
 * 1..9999 (which PostgreSQL and `toISOString` disagree on) are refused.
 */
export function parseTimestamp(text: string): Date | null {
  const m = DATE_RE.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((s) => Number(s ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  // Date silently rolls 2026-02-30 over into March; a changed field means the input was invalid.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const zm = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    const offset = (Number(zm[2]) * 60 + Number(zm[3])) * (zm[1] === '-' ? -1 : 1);
    if (Number(zm[2]) > 23 || Number(zm[3]) > 59) return null;
    d.setTime(d.getTime() - offset * 60_000);
  }
  const y = d.getUTCFullYear();
  return y >= 1 && y <= 9999 ? d : null;
}

/**
 * Checks an AST built in code against the rules the parser applies, throwing a
 * ValidationError. Values must already be normalized (as the parser leaves them).
 */
export function validateFilter(expr: FilterExpr): void {
  const fail = (detail: string): never => {
    throw new ValidationError(`invalid filter: ${detail}`);
  };
  const walk = (e: FilterExpr, depth: number): void => {
    // Deeper than anything the parser produces; stops runaway recursion in compile and evaluate.
    if (depth > 1000) fail('nested too deeply');
    switch (e.type) {
      case 'and':
      case 'or':
        if (!Array.isArray(e.items)) fail(`${e.type} needs a list of items`);
        for (const item of e.items) walk(item, depth + 1);
        return;
      case 'not':
        walk(e.item, depth + 1);
        return;
      case 'compare':
      case 'in':
      case 'like':
      case 'isNull': {
        checkField(e.field, fail);
        const op: Operation = e.type === 'compare' ? e.op : e.type;
        if (e.type === 'compare' && !COMPARE_OPS.includes(e.op)) fail(`unknown operator '${String(e.op)}'`);
        const opErr = operationError(e.field, op);
        if (opErr) fail(opErr);
        const values = e.type === 'compare' ? [e.value] : e.type === 'in' ? e.values : [];
        if (e.type === 'in' && (!Array.isArray(e.values) || e.values.length === 0)) fail('IN needs at least one value');
        for (const v of values) {
          if (!(typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))) {
            fail('values must be strings or finite numbers');
          }
          if (typeof v === 'string' && v.includes('\0')) fail('values must not contain NUL characters');
          const err = valueError(e.field, v);
          if (err) fail(err);
        }
        if (e.type === 'like') {
          if (typeof e.pattern !== 'string' || e.pattern.includes('\0')) fail('LIKE needs a string pattern without NUL characters');
          const err = patternError(e.pattern);
          if (err) fail(err);
        }
        return;
      }
      default:
        fail(`unknown node type '${String((e as { type: unknown }).type)}'`);
    }
  };
  walk(expr, 0);
}

function checkField(field: FieldRef, fail: (detail: string) => never): void {
  switch (field?.kind) {
    case 'param':
    case 'tag':
    case 'metric':
      if (typeof field.key !== 'string' || field.key === '' || field.key.includes('\0')) {
        fail('a field key must be a non-empty string without NUL characters');
      }
      if (field.kind === 'metric' && !AGGREGATES.includes(field.agg)) fail(`unknown aggregate '${String(field.agg)}'`);
      return;
    case 'attribute':
      if (!ATTRIBUTES.includes(field.name)) fail(`unknown attribute '${String(field.name)}'`);
      return;
    case 'gate':
      if (typeof field.tier !== 'string' || field.tier === '' || field.tier.includes('\0')) fail('a gate tier must be a non-empty string without NUL characters');
      return;
    default:
      fail('unknown field kind');
  }
}
