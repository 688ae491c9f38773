/**
 * The run-search filter language.
 *
 *   metrics.acc > 0.9 AND (params.optimizer = 'adam' OR tags.team IN ('vision', 'nlp'))
 *   NOT status = 'failed' AND created >= '2026-01-01' AND metrics.`val loss`.min < 0.3
 *
 * Boolean: AND, OR, NOT and parentheses, NOT binding tightest, then AND, then OR.
 * Keywords, field prefixes and attribute names are case-insensitive; keys are not.
 *
 * Predicates: = != <> < <= > >=, [NOT] IN (v, …), [NOT] LIKE / ILIKE 'pattern'
 * (% any run, _ one character, \ escapes), IS [NOT] NULL.
 *
 * Fields:
 * - params.<key>: text, or its number when the literal is a number (see paramValueNum);
 * - metrics.<key>[.last|.min|.max|.count]: numbers only, `last` by default;
 * - tags.<key>: text only;
 * - status (=, !=, IN with a valid status), tier, name, id, experiment (text),
 *   created, started, ended (ISO dates; no zone means UTC); also as attributes.<name>.
 * - gate.<tier>: the gate verdict the pipeline recorded for the run on that tier,
 *   'passed' or 'failed' (=, !=, IN, IS [NOT] NULL), read from the pipeline's own
 *   table, never from tags: `tags.gate` is an ordinary tag a user may set.
 * A bare key uses [A-Za-z0-9_./:-]; for params, tags and gates it is everything after the
 * prefix, for metrics a trailing .min/.max/.last/.count is the aggregate. Any other
 * key goes in backticks, with a backtick doubled: metrics.`val acc`.max.
 *
 * Values: finite numbers, 'strings' or "strings" (quote doubled or backslash-escaped;
 * other backslashes are kept, for LIKE), and true/false, which are the strings
 * 'true'/'false'.
 *
 * Missing fields: every comparison, != and NOT IN included, needs the field; only
 * NOT and IS NULL select runs that lack it. A NaN metric matches no comparison.
 */
export * from './ast.ts';
export { parseFilter, MAX_DEPTH } from './parser.ts';
export { parseOrderBy, parseFieldRef } from './order-by.ts';
export { printFilter, printField, printLiteral, printOrderBy } from './printer.ts';
export { compileFilter, compileSortKey, compileSortJoin, impliedMetricBounds, boundCondition, type SortKey } from './compile.ts';
export { evaluateFilter, filterRowFromRun, type FilterRow, type MetricValues } from './evaluate.ts';
export { validateFilter, parseTimestamp } from './validate.ts';
export { paramValueNum } from './numeric.ts';
