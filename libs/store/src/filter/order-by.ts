import type { FieldRef, OrderBy } from './ast.ts';
import { Parser } from './parser.ts';

/**
 * Parses a sort spec such as `metrics.acc desc` or `created`: a field (same
 * syntax as in filters) and an optional, case-insensitive `asc`/`desc`.
 * Without a direction, timestamps (created, started, ended) sort newest first
 * and everything else ascending. Throws FilterSyntaxError.
 */
export function parseOrderBy(spec: string): OrderBy {
  const parser = new Parser(spec);
  if (parser.at('eof')) parser.fail('expected a field to sort by', parser.peek());
  const field = parser.parseField();
  const isTimestamp = field.kind === 'attribute' && ['created', 'started', 'ended'].includes(field.name);
  let direction: OrderBy['direction'] = isTimestamp ? 'desc' : 'asc';
  if (parser.atKeyword('ASC') || parser.atKeyword('DESC')) {
    direction = parser.atKeyword('ASC') ? 'asc' : 'desc';
    parser.next();
  }
  const t = parser.peek();
  if (t.kind !== 'eof') parser.fail(`expected ASC, DESC or the end of the sort spec but found ${parser.describe(t)}`, t);
  return { field, direction };
}

/** Parses one field (`params.lr`, ``metrics.`val acc`.max``, `status`) with the filter language's rules. */
export function parseFieldRef(spec: string): FieldRef {
  const parser = new Parser(spec);
  if (parser.at('eof')) parser.fail('expected a field', parser.peek());
  const field = parser.parseField();
  const t = parser.peek();
  if (t.kind !== 'eof') parser.fail(`expected the end of the field but found ${parser.describe(t)}`, t);
  return field;
}
