import type { FieldRef, FilterExpr, Literal, OrderBy } from './ast.ts';

/**
 * AST → canonical filter text. Canonical means: keywords upper case, `!=` for
 * inequality, strings in single quotes, keys in backticks only when needed, and
 * parentheses only where precedence demands them. `parseFilter(printFilter(ast))`
 * gives back an equal AST (the property test checks this).
 */

export function printFilter(expr: FilterExpr): string {
  switch (expr.type) {
    case 'or':
      // AND binds tighter than OR, so only a nested OR needs parentheses (to stay a separate node).
      return join(expr.items, ' OR ', (e) => e.type === 'or');
    case 'and':
      return join(expr.items, ' AND ', (e) => e.type === 'or' || e.type === 'and');
    case 'not':
      // NOT binds tightest: a predicate or another NOT needs no parentheses.
      return `NOT ${wrap(expr.item, expr.item.type === 'or' || expr.item.type === 'and')}`;
    case 'compare':
      return `${printField(expr.field)} ${expr.op} ${printLiteral(expr.value)}`;
    case 'in':
      return `${printField(expr.field)} ${expr.negated ? 'NOT IN' : 'IN'} (${expr.values.map(printLiteral).join(', ')})`;
    case 'like': {
      const op = `${expr.negated ? 'NOT ' : ''}${expr.caseInsensitive ? 'ILIKE' : 'LIKE'}`;
      return `${printField(expr.field)} ${op} ${printLiteral(expr.pattern)}`;
    }
    case 'isNull':
      return `${printField(expr.field)} ${expr.negated ? 'IS NOT NULL' : 'IS NULL'}`;
  }
}

function join(items: FilterExpr[], sep: string, needsParens: (e: FilterExpr) => boolean): string {
  if (items.length === 0) throw new Error('cannot print an empty AND/OR');
  // A one-item list prints as its item; it reparses as the item itself, which means the same.
  if (items.length === 1) return printFilter(items[0]!);
  return items.map((e) => wrap(e, needsParens(e))).join(sep);
}

function wrap(e: FilterExpr, parens: boolean): string {
  return parens ? `(${printFilter(e)})` : printFilter(e);
}

// Keys that can be written bare. Dots only between non-empty segments, so the
// text reads unambiguously; metric keys never bare with a dot, since a trailing
// segment could be taken for an aggregate.
const BARE_KEY = /^[A-Za-z0-9_:/-]+(?:\.[A-Za-z0-9_:/-]+)*$/;
const BARE_METRIC_KEY = /^[A-Za-z0-9_:/-]+$/;

export function printField(field: FieldRef): string {
  switch (field.kind) {
    case 'param':
      return `params.${printKey(field.key, BARE_KEY)}`;
    case 'tag':
      return `tags.${printKey(field.key, BARE_KEY)}`;
    case 'metric':
      return `metrics.${printKey(field.key, BARE_METRIC_KEY)}${field.agg === 'last' ? '' : `.${field.agg}`}`;
    case 'attribute':
      return field.name;
    case 'gate':
      return `gate.${printKey(field.tier, BARE_KEY)}`;
  }
}

function printKey(key: string, bare: RegExp): string {
  return bare.test(key) ? key : `\`${key.replaceAll('`', '``')}\``;
}

/**
 * Strings in single quotes with `'` doubled. A backslash is doubled only where the
 * lexer would read it as an escape (before a quote or backslash, or at the end),
 * so LIKE patterns such as 'a\_b' print as written.
 */
export function printLiteral(value: Literal): string {
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/\\(?=['"\\]|$)/g, '\\\\').replaceAll("'", "''")}'`;
}

export function printOrderBy(order: OrderBy): string {
  return `${printField(order.field)} ${order.direction.toUpperCase()}`;
}
