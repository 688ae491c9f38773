/**
 * The typed AST of the run-search filter language. Plain data (no positions, no
 * classes) so an AST can be built by hand (promotion gates), compared with
 * deep equality and round-tripped through `printFilter` / `parseFilter`.
 */

/** Which number of a metric's summary a field reads; `last` is the default. */
export const AGGREGATES = ['last', 'min', 'max', 'count'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

/** Columns of `runs` a filter may name. `experiment` is the experiment id. */
export const ATTRIBUTES = ['status', 'tier', 'name', 'created', 'started', 'ended', 'id', 'experiment'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

/** Attributes that hold a point in time and compare with ISO date strings. */
export const TIMESTAMP_ATTRIBUTES: readonly Attribute[] = ['created', 'started', 'ended'];

/** Attributes that may be missing on a run, so `IS NULL` makes sense for them. */
export const NULLABLE_ATTRIBUTES: readonly Attribute[] = ['tier', 'started', 'ended'];

/** What a gate field holds: the verdict the pipeline recorded for the run on that tier. */
export const GATE_VERDICTS = ['passed', 'failed'] as const;
export type GateVerdict = (typeof GATE_VERDICTS)[number];

export type FieldRef =
  | { kind: 'param'; key: string }
  | { kind: 'tag'; key: string }
  | { kind: 'metric'; key: string; agg: Aggregate }
  | { kind: 'attribute'; name: Attribute }
  /** `gate.<tier>`: the run's recorded gate verdict on that tier ('passed' or 'failed'), missing when none was recorded. */
  | { kind: 'gate'; tier: string };

/**
 * A value in a comparison. `true`/`false` in the text become the strings
 * 'true'/'false'; timestamps are stored normalized as `Date#toISOString()` text.
 */
export type Literal = number | string;

/** `<>` is parsed as `!=`. */
export const COMPARE_OPS = ['=', '!=', '<', '<=', '>', '>='] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

export type FilterExpr =
  | { type: 'and'; items: FilterExpr[] }
  | { type: 'or'; items: FilterExpr[] }
  | { type: 'not'; item: FilterExpr }
  | { type: 'compare'; field: FieldRef; op: CompareOp; value: Literal }
  | { type: 'in'; field: FieldRef; values: Literal[]; negated: boolean }
  | { type: 'like'; field: FieldRef; pattern: string; caseInsensitive: boolean; negated: boolean }
  /** `IS NULL` (negated: false) or `IS NOT NULL` (negated: true). */
  | { type: 'isNull'; field: FieldRef; negated: boolean };

/** A predicate: every node that reads a field. */
export type Predicate = Extract<FilterExpr, { field: FieldRef }>;

export interface OrderBy {
  field: FieldRef;
  direction: 'asc' | 'desc';
}
