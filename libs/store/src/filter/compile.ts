import { runs } from '@cairn/schema';
import { sql, type SQL } from 'drizzle-orm';
import type { CompareOp, FieldRef, FilterExpr, Literal, Predicate } from './ast.ts';
import { validateFilter } from './validate.ts';

/**
 * AST → a drizzle `SQL` chunk for `SELECT … FROM runs WHERE <chunk>`. The outer
 * table must be `runs` itself (not an alias): the chunk refers to `"runs"."id"`.
 *
 * Every key and value is a bound parameter. The only raw SQL is text written in
 * this file: operators come from the fixed table below, never from the AST.
 *
 * Every predicate compiles to something that is TRUE or FALSE, never NULL, so
 * `NOT` is plain negation: a run without the field fails `params.x = 1` and
 * therefore passes `NOT params.x = 1`. Params, tags and metrics are EXISTS
 * subqueries; nullable columns are guarded with IS NOT NULL.
 */
export function compileFilter(expr: FilterExpr): SQL {
  validateFilter(expr);
  return compile(expr);
}

const SQL_OPS: Record<CompareOp, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

function sqlOp(op: CompareOp): SQL {
  const raw = SQL_OPS[op];
  if (raw === undefined) throw new Error(`unknown operator ${String(op)}`);
  return sql.raw(raw);
}

function compile(e: FilterExpr): SQL {
  switch (e.type) {
    case 'and':
      return e.items.length === 0 ? sql`TRUE` : sql`(${sql.join(e.items.map(compile), sql` AND `)})`;
    case 'or':
      return e.items.length === 0 ? sql`FALSE` : sql`(${sql.join(e.items.map(compile), sql` OR `)})`;
    case 'not':
      return sql`(NOT ${compile(e.item)})`;
    default:
      return predicate(e);
  }
}

const num = (n: number): SQL => sql`${n}::float8`;
const text = (s: string): SQL => sql`${s}::text`;
const timestamp = (s: string): SQL => sql`${s}::timestamptz`;

function predicate(e: Predicate): SQL {
  const f = e.field;
  switch (f.kind) {
    case 'param':
      return keyed(e, sql`params p WHERE p.run_id = ${runs.id} AND p.key = ${text(f.key)}`, paramCondition(e));
    case 'tag':
      return keyed(e, sql`run_tags t WHERE t.run_id = ${runs.id} AND t.key = ${text(f.key)}`, valueCondition(e, sql.raw('t.value'), 'text'));
    case 'metric': {
      const col = sql.raw(`ms.${f.agg}`);
      const from = sql`metric_summaries ms WHERE ms.run_id = ${runs.id} AND ms.key = ${text(f.key)}`;
      if (e.type === 'isNull') {
        // last and count are never NULL for a logged metric; min and max are NULL when every value was NaN.
        const present = f.agg === 'min' || f.agg === 'max' ? sql`EXISTS (SELECT 1 FROM ${from} AND ${col} IS NOT NULL)` : sql`EXISTS (SELECT 1 FROM ${from})`;
        return e.negated ? present : sql`(NOT ${present})`;
      }
      // PostgreSQL orders NaN above every number and makes NaN = NaN; JavaScript makes
      // every NaN comparison false. A NaN summary matches no comparison, as in `evaluateFilter`.
      const notNaN = f.agg === 'count' ? sql`` : sql`${col} <> 'NaN'::float8 AND `;
      return sql`EXISTS (SELECT 1 FROM ${from} AND ${notNaN}${valueCondition(e, col, 'number')})`;
    }
    case 'attribute':
      return attributeCondition(e, f.name);
  }
}

/** Params and tags: EXISTS over the (run, key) row, or NOT EXISTS for IS NULL. */
function keyed(e: Predicate, from: SQL, condition: SQL | null): SQL {
  if (e.type === 'isNull') {
    const present = sql`EXISTS (SELECT 1 FROM ${from})`;
    return e.negated ? present : sql`(NOT ${present})`;
  }
  return sql`EXISTS (SELECT 1 FROM ${from} AND ${condition})`;
}

/**
 * A param compared with a number reads `value_num` (so '1.0' equals 1 and
 * non-numeric params never match); compared with a string it reads `value`. An
 * IN list with both kinds tests each kind against its own column.
 */
function paramCondition(e: Predicate): SQL | null {
  const numCol = sql.raw('p.value_num');
  const textCol = sql.raw('p.value');
  switch (e.type) {
    case 'compare':
      return typeof e.value === 'number' ? valueCondition(e, numCol, 'number') : valueCondition(e, textCol, 'text');
    case 'in': {
      const nums = e.values.filter((v): v is number => typeof v === 'number');
      const strs = e.values.filter((v): v is string => typeof v === 'string');
      const parts: SQL[] = [];
      const inList = e.negated ? sql.raw('NOT IN') : sql.raw('IN');
      if (nums.length) parts.push(sql`${numCol} ${inList} (${sql.join(nums.map(num), sql`, `)})`);
      if (strs.length) parts.push(sql`${textCol} ${inList} (${sql.join(strs.map(text), sql`, `)})`);
      // x IN (a, b) means x = a OR x = b; x NOT IN (a, b) means x != a AND x != b.
      // Inside EXISTS a NULL value_num makes the row not count, as a failed comparison should.
      return parts.length === 1 ? parts[0]! : sql`(${sql.join(parts, e.negated ? sql` AND ` : sql` OR `)})`;
    }
    case 'like':
      return valueCondition(e, textCol, 'text');
    case 'isNull':
      return null;
  }
}

type ValueType = 'number' | 'text' | 'timestamp';

/** The test of one non-NULL column against the predicate's value(s). */
function valueCondition(e: Predicate, col: SQL, type: ValueType): SQL {
  const bind = (v: Literal): SQL =>
    type === 'number' ? num(v as number) : type === 'timestamp' ? timestamp(v as string) : text(v as string);
  switch (e.type) {
    case 'compare': {
      // Ordering text compares code points (COLLATE "C"): the same on every server and in JavaScript.
      // Equality needs no collation, which keeps the (key, value) indexes usable.
      const ordered = type === 'text' && e.op !== '=' && e.op !== '!=';
      return sql`${col}${ordered ? sql.raw(' COLLATE "C"') : sql``} ${sqlOp(e.op)} ${bind(e.value)}`;
    }
    case 'in':
      return sql`${col} ${sql.raw(e.negated ? 'NOT IN' : 'IN')} (${sql.join(e.values.map(bind), sql`, `)})`;
    case 'like': {
      const op = `${e.negated ? 'NOT ' : ''}${e.caseInsensitive ? 'ILIKE' : 'LIKE'}`;
      return sql`${col} ${sql.raw(op)} ${text(e.pattern)}`;
    }
    case 'isNull':
      return sql`${col} ${sql.raw(e.negated ? 'IS NOT NULL' : 'IS NULL')}`;
  }
}

function attributeColumn(name: Extract<FieldRef, { kind: 'attribute' }>['name']): { col: SQL; type: ValueType; nullable: boolean } {
  switch (name) {
    case 'status':
      return { col: sql`${runs.status}`, type: 'text', nullable: false };
    case 'name':
      return { col: sql`${runs.name}`, type: 'text', nullable: false };
    case 'tier':
      return { col: sql`${runs.tier}`, type: 'text', nullable: true };
    // Ids are uuid columns; comparing their text means a malformed id simply matches nothing
    // (instead of a cast error) and LIKE 'abc%' finds a prefix.
    case 'id':
      return { col: sql`${runs.id}::text`, type: 'text', nullable: false };
    case 'experiment':
      return { col: sql`${runs.experimentId}::text`, type: 'text', nullable: false };
    case 'created':
      return { col: sql`${runs.createdAt}`, type: 'timestamp', nullable: false };
    case 'started':
      return { col: sql`${runs.startedAt}`, type: 'timestamp', nullable: true };
    case 'ended':
      return { col: sql`${runs.endedAt}`, type: 'timestamp', nullable: true };
  }
}

function attributeCondition(e: Predicate, name: Extract<FieldRef, { kind: 'attribute' }>['name']): SQL {
  const { col, type, nullable } = attributeColumn(name);
  const condition = valueCondition(e, col, type);
  // `tier = 'x'` on a NULL tier would be NULL, and NOT NULL is still NULL; the guard makes it FALSE.
  return nullable && e.type !== 'isNull' ? sql`(${col} IS NOT NULL AND ${condition})` : condition;
}

/** One ORDER BY expression and the kind of value it yields (for cursors and display). */
export interface SortKey {
  expr: SQL;
  type: ValueType;
}

/**
 * Scalar expressions to sort runs by a field, most significant first. Most
 * fields give one; a param gives two, `value_num` then `value`, so numeric
 * params sort numerically, ahead of non-numeric ones, which sort as text
 * (ties such as '1' and '1.0' are broken by their text). A missing field, and
 * a NaN metric, yield NULL (sort them NULLS LAST). Text sorts by code point
 * (COLLATE "C"), the same on every server. Callers order by each key in turn,
 * all in the spec's direction, then by a unique tie-breaker such as the id.
 */
export function compileSortKey(field: FieldRef): SortKey[] {
  switch (field.kind) {
    case 'param': {
      const from = sql`FROM params p WHERE p.run_id = ${runs.id} AND p.key = ${text(field.key)}`;
      return [
        { expr: sql`(SELECT p.value_num ${from})`, type: 'number' },
        { expr: sql`(SELECT p.value COLLATE "C" ${from})`, type: 'text' },
      ];
    }
    case 'tag':
      return [
        {
          expr: sql`(SELECT t.value COLLATE "C" FROM run_tags t WHERE t.run_id = ${runs.id} AND t.key = ${text(field.key)})`,
          type: 'text',
        },
      ];
    case 'metric': {
      // NULLIF turns NaN into NULL so a diverged run sorts with the missing ones, not above every number.
      // count is bigint; the float8 cast makes every metric key come back as a JS number.
      const value = field.agg === 'count' ? sql.raw('ms.count::float8') : sql.raw(`NULLIF(ms.${field.agg}, 'NaN'::float8)`);
      return [
        {
          expr: sql`(SELECT ${value} FROM metric_summaries ms WHERE ms.run_id = ${runs.id} AND ms.key = ${text(field.key)})`,
          type: 'number',
        },
      ];
    }
    case 'attribute': {
      const { col, type } = attributeColumn(field.name);
      return [{ expr: type === 'text' ? sql`${col} COLLATE "C"` : col, type }];
    }
  }
}
