import { runs } from '@cairn/schema';
import { sql, type SQL } from 'drizzle-orm';
import type { Aggregate, CompareOp, FieldRef, FilterExpr, Literal, Predicate } from './ast.ts';
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
 * therefore passes `NOT params.x = 1`. Params, tags, metrics and gate verdicts
 * (`gate.<tier>`, read from gate_results, which only the pipeline writes) are
 * EXISTS subqueries; nullable columns are guarded with IS NOT NULL.
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
      return e.items.length === 0 ? sql`TRUE` : sql`(${sql.join(mergeSameField(e.items, 'and'), sql` AND `)})`;
    case 'or':
      return e.items.length === 0 ? sql`FALSE` : sql`(${sql.join(mergeSameField(e.items, 'or'), sql` OR `)})`;
    case 'not':
      return sql`(NOT ${compile(e.item)})`;
    default:
      return predicate(e);
  }
}

/**
 * Compiles the items of an AND or OR, folding predicates on the same param, tag or
 * metric into one EXISTS: `EXISTS(c1) AND EXISTS(c2)` equals `EXISTS(c1 AND c2)`
 * because (run, key) is unique in params, run_tags and metric_summaries, and the
 * folded form is one probe per run instead of several semi-joins (a metric range or
 * `optimizer = 'adam' OR optimizer = 'sgd'` is the common case).
 */
function mergeSameField(items: FilterExpr[], join: 'and' | 'or'): SQL[] {
  const out: (SQL | { from: SQL; conditions: SQL[] })[] = [];
  const groups = new Map<string, { from: SQL; conditions: SQL[] }>();
  for (const item of items) {
    const parts = item.type === 'and' || item.type === 'or' || item.type === 'not' ? null : existsParts(item);
    if (!parts) {
      out.push(compile(item));
      continue;
    }
    const g = groups.get(parts.group);
    if (g) g.conditions.push(parts.condition);
    else {
      const fresh = { from: parts.from, conditions: [parts.condition] };
      groups.set(parts.group, fresh);
      out.push(fresh);
    }
  }
  const glue = join === 'and' ? sql` AND ` : sql` OR `;
  return out.map((o) =>
    'conditions' in o
      ? sql`EXISTS (SELECT 1 FROM ${o.from} AND ${o.conditions.length === 1 ? o.conditions[0]! : sql`(${sql.join(o.conditions, glue)})`})`
      : o,
  );
}

const num = (n: number): SQL => sql`${n}::float8`;
const text = (s: string): SQL => sql`${s}::text`;
const timestamp = (s: string): SQL => sql`${s}::timestamptz`;

/**
 * The parts of a predicate that is `EXISTS (SELECT 1 FROM <from> AND <condition>)`
 * over a (run, key) row, with a group name for merging; null for the others.
 */
function existsParts(e: Predicate): { group: string; from: SQL; condition: SQL } | null {
  if (e.type === 'isNull') return null;
  const f = e.field;
  switch (f.kind) {
    case 'param':
      return { group: `p\u0000${f.key}`, from: sql`params p WHERE p.run_id = ${runs.id} AND p.key = ${text(f.key)}`, condition: paramCondition(e)! };
    case 'tag':
      return {
        group: `t\u0000${f.key}`,
        from: sql`run_tags t WHERE t.run_id = ${runs.id} AND t.key = ${text(f.key)}`,
        condition: valueCondition(e, sql.raw('t.value'), 'text'),
      };
    case 'metric': {
      const col = sql.raw(`ms.${f.agg}`);
      // PostgreSQL orders NaN above every number and makes NaN = NaN; JavaScript makes
      // every NaN comparison false. A NaN summary matches no comparison, as in `evaluateFilter`.
      const notNaN = f.agg === 'count' ? sql`` : sql`${col} <> 'NaN'::float8 AND `;
      return {
        group: `m\u0000${f.key}`,
        from: sql`metric_summaries ms WHERE ms.run_id = ${runs.id} AND ms.key = ${text(f.key)}`,
        condition: sql`(${notNaN}${valueCondition(e, col, 'number')})`,
      };
    }
    case 'gate':
      return { group: `g\u0000${f.tier}`, from: gateFrom(f.tier), condition: gateCondition(e) };
    case 'attribute':
      return null;
  }
}

const gateFrom = (tier: string): SQL => sql`gate_results g WHERE g.run_id = ${runs.id} AND g.tier = ${text(tier)}`;

/** A verdict is the boolean `passed`: 'passed' binds true and 'failed' false (validateFilter allows no other value). */
function gateCondition(e: Predicate): SQL {
  const bind = (v: Literal): SQL => sql`${v === 'passed'}::boolean`;
  const col = sql.raw('g.passed');
  switch (e.type) {
    case 'compare':
      return sql`${col} ${sqlOp(e.op)} ${bind(e.value)}`;
    case 'in':
      return sql`${col} ${sql.raw(e.negated ? 'NOT IN' : 'IN')} (${sql.join(e.values.map(bind), sql`, `)})`;
    default:
      throw new Error(`a gate field takes no ${e.type}`);
  }
}

function predicate(e: Predicate): SQL {
  const parts = existsParts(e);
  if (parts) return sql`EXISTS (SELECT 1 FROM ${parts.from} AND ${parts.condition})`;
  const f = e.field;
  switch (f.kind) {
    case 'param':
      return isNullCondition(e, sql`params p WHERE p.run_id = ${runs.id} AND p.key = ${text(f.key)}`);
    case 'tag':
      return isNullCondition(e, sql`run_tags t WHERE t.run_id = ${runs.id} AND t.key = ${text(f.key)}`);
    case 'gate':
      return isNullCondition(e, gateFrom(f.tier));
    case 'metric': {
      const col = sql.raw(`ms.${f.agg}`);
      const from = sql`metric_summaries ms WHERE ms.run_id = ${runs.id} AND ms.key = ${text(f.key)}`;
      // last and count are never NULL for a logged metric; min and max are NULL when every value was NaN.
      const present = f.agg === 'min' || f.agg === 'max' ? sql`EXISTS (SELECT 1 FROM ${from} AND ${col} IS NOT NULL)` : sql`EXISTS (SELECT 1 FROM ${from})`;
      return e.type === 'isNull' && e.negated ? present : sql`(NOT ${present})`;
    }
    case 'attribute':
      return attributeCondition(e, f.name);
  }
}

/** IS [NOT] NULL on a param or tag: whether its (run, key) row exists. */
function isNullCondition(e: Predicate, from: SQL): SQL {
  const present = sql`EXISTS (SELECT 1 FROM ${from})`;
  return e.type === 'isNull' && e.negated ? present : sql`(NOT ${present})`;
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
  /** False for NOT NULL columns: ORDER BY can then skip NULLS LAST and use a plain index. */
  nullable: boolean;
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
        { expr: sql`(SELECT p.value_num ${from})`, type: 'number', nullable: true },
        { expr: sql`(SELECT p.value COLLATE "C" ${from})`, type: 'text', nullable: true },
      ];
    }
    case 'tag':
      return [
        {
          expr: sql`(SELECT t.value COLLATE "C" FROM run_tags t WHERE t.run_id = ${runs.id} AND t.key = ${text(field.key)})`,
          type: 'text',
          nullable: true,
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
          nullable: true,
        },
      ];
    }
    case 'gate':
      return [{ expr: sql`(SELECT ${GATE_TEXT} FROM ${gateFrom(field.tier)})`, type: 'text', nullable: true }];
    case 'attribute': {
      const { col, type, nullable } = attributeColumn(field.name);
      return [{ expr: type === 'text' ? sql`${col} COLLATE "C"` : col, type, nullable }];
    }
  }
}

/** A verdict as the filter language writes it. */
const GATE_TEXT = sql.raw(`(CASE WHEN g.passed THEN 'passed' ELSE 'failed' END) COLLATE "C"`);

/**
 * The same sort keys as `compileSortKey`, read through a LEFT JOIN on the (run, key)
 * row instead of a correlated subquery per row: a search sorted by a metric then
 * hash-joins one key's rows once, and the keyset (cursor) condition, which repeats
 * every sort expression, reads a column instead of running subqueries again.
 * `alias` must be an identifier the caller makes up (never user text).
 */
export function compileSortJoin(field: FieldRef, alias: string): { join: SQL | null; keys: SortKey[] } {
  if (!/^[a-z][a-z0-9_]*$/.test(alias)) throw new Error(`bad alias ${alias}`);
  const a = sql.raw(alias);
  switch (field.kind) {
    case 'param':
      return {
        join: sql`LEFT JOIN params ${a} ON ${a}.run_id = ${runs.id} AND ${a}.key = ${text(field.key)}`,
        keys: [
          { expr: sql`${a}.value_num`, type: 'number', nullable: true },
          { expr: sql`${a}.value COLLATE "C"`, type: 'text', nullable: true },
        ],
      };
    case 'tag':
      return {
        join: sql`LEFT JOIN run_tags ${a} ON ${a}.run_id = ${runs.id} AND ${a}.key = ${text(field.key)}`,
        keys: [{ expr: sql`${a}.value COLLATE "C"`, type: 'text', nullable: true }],
      };
    case 'metric': {
      const value = field.agg === 'count' ? sql`${a}.count::float8` : sql`NULLIF(${a}.${sql.raw(field.agg)}, 'NaN'::float8)`;
      return {
        join: sql`LEFT JOIN metric_summaries ${a} ON ${a}.run_id = ${runs.id} AND ${a}.key = ${text(field.key)}`,
        keys: [{ expr: value, type: 'number', nullable: true }],
      };
    }
    case 'gate':
      return {
        join: sql`LEFT JOIN gate_results ${a} ON ${a}.run_id = ${runs.id} AND ${a}.tier = ${text(field.tier)}`,
        keys: [{ expr: sql`(CASE WHEN ${a}.passed THEN 'passed' WHEN NOT ${a}.passed THEN 'failed' END) COLLATE "C"`, type: 'text', nullable: true }],
      };
    case 'attribute':
      return { join: null, keys: compileSortKey(field) };
  }
}

/**
 * Bounds that a filter forces on one metric: the comparisons on it that every
 * matching run must satisfy (the filter itself, or items of a top-level AND). A
 * search sorted by that metric repeats them on the sort join, so the database
 * range-scans the (key, value) index instead of walking every value and probing.
 */
export function impliedMetricBounds(expr: FilterExpr | null, key: string, agg: Aggregate): { op: CompareOp; value: number }[] {
  if (!expr) return [];
  if (expr.type === 'and') return expr.items.flatMap((item) => impliedMetricBounds(item, key, agg));
  if (expr.type === 'compare' && expr.field.kind === 'metric' && expr.field.key === key && expr.field.agg === agg && expr.op !== '!=' && typeof expr.value === 'number') {
    return [{ op: expr.op, value: expr.value }];
  }
  return [];
}

/** `column op value` for a bound from impliedMetricBounds. */
export function boundCondition(column: SQL, bound: { op: CompareOp; value: number }): SQL {
  return sql`${column} ${sqlOp(bound.op)} ${num(bound.value)}`;
}
