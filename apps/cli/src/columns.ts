import { FilterSyntaxError } from '@cairn/schema';
import { parseFieldRef, type FieldRef, type RunDetail } from '@cairn/store';
import { UsageError } from './errors.ts';

/** A params/metrics/tags column of `runs list`, named as in the filter language. */
export type ColumnField = Exclude<FieldRef, { kind: 'attribute' } | { kind: 'gate' }>;

const HELP = 'columns are params.<key>, metrics.<key>[.min|.max|.count] or tags.<key>, separated by commas; quote odd keys in backticks: metrics.`val acc`';

/** Splits `--columns` values on commas outside backticks. */
export function splitColumnList(values: string[]): string[] {
  const items: string[] = [];
  for (const value of values) {
    let current = '';
    let quoted = false;
    for (const ch of value) {
      if (ch === '`') quoted = !quoted;
      if (ch === ',' && !quoted) {
        items.push(current);
        current = '';
      } else current += ch;
    }
    items.push(current);
  }
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** Reads one column spec with the filter language's own field parser. */
export function parseColumn(spec: string): ColumnField {
  let field;
  try {
    field = parseFieldRef(spec);
  } catch (e) {
    throw new UsageError(`invalid column '${spec}': ${e instanceof FilterSyntaxError ? e.detail : String(e)}; ${HELP}`);
  }
  // Gate verdicts filter runs (--filter "gate.ci = 'passed'") and show in `runs show`; they are no column.
  if (field.kind === 'attribute' || field.kind === 'gate') throw new UsageError(`unknown column '${spec}': ${HELP}`);
  return field;
}

export function columnHeader(c: ColumnField): string {
  const key = /^[A-Za-z0-9_:/.-]+$/.test(c.key) ? c.key : `\`${c.key.replace(/`/g, '``')}\``;
  if (c.kind === 'metric') return `metrics.${key}${c.agg === 'last' ? '' : `.${c.agg}`}`;
  return `${c.kind === 'param' ? 'params' : 'tags'}.${key}`;
}

/** The value of a column for a run, or undefined when the run lacks it. */
export function columnValue(run: RunDetail, c: ColumnField): string | number | undefined {
  if (c.kind === 'param') return run.params[c.key];
  if (c.kind === 'tag') return run.tags[c.key];
  const m = run.metrics[c.key];
  if (!m) return undefined;
  return m[c.agg] ?? undefined;
}

/**
 * Candidate columns for a page: every param and metric some run in it has, the
 * most common first (then by key), as params/metrics lists.
 */
export function pageColumns(runs: RunDetail[]): { params: ColumnField[]; metrics: ColumnField[] } {
  const count = (pick: (r: RunDetail) => string[]) => {
    const n = new Map<string, number>();
    for (const r of runs) for (const k of pick(r)) n.set(k, (n.get(k) ?? 0) + 1);
    return [...n.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k]) => k);
  };
  return {
    params: count((r) => Object.keys(r.params)).map((key) => ({ kind: 'param', key })),
    metrics: count((r) => Object.keys(r.metrics)).map((key) => ({ kind: 'metric', key, agg: 'last' })),
  };
}
