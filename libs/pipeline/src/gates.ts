import { ValidationError } from '@cairn/schema';
import type { Tier } from '@cairn/engine';
import { evaluateFilter, filterRowFromRun, parseFilter, printField, type FieldRef, type FilterExpr, type GateRecord, type GateValue, type Note, type RunDetail, type Store } from '@cairn/store';

/**
 * Promotion gates: expressions in the store's filter language over a run's metrics,
 * params, tags, attributes and earlier gate verdicts (`metrics.val_accuracy >= 0.9 and
 * metrics.loss.min < 0.5`, `gate.ci = 'passed'`), evaluated when the run ends and
 * recorded in the store's gate results (store.recordGateResult: one verdict per run and
 * tier, with the expression and the values that decided it). Promotion and the
 * schedules read those records, never tags: a tag is the user's to write.
 *
 * A gate means what the same text means as a run search (`evaluateFilter`, which agrees
 * with the SQL), with one rule on top for metrics. In the filter language a comparison
 * on a field the run lacks is false, so `metrics.acc >= 0.9` already fails a run without
 * `acc`; but NOT turns that round (`not metrics.loss > 1` selects a run that never logged
 * `loss`), and a NaN metric likewise matches no comparison. A gate is a safety check, and
 * a metric that was renamed or never logged must not pass one by accident, so:
 *
 *   a gate fails when a metric it names is missing (or is NaN), unless the gate itself
 *   tests that metric with IS NULL / IS NOT NULL, in which case the filter language's
 *   own rules decide.
 *
 * Params, tags and attributes follow the filter language unchanged (`not tags.skip =
 * 'true'` passes a run without the tag, as it should).
 */

/** A value as a gate record shows it: non-finite metrics as 'NaN' / 'Infinity' / '-Infinity' (JSON-safe, as the tracking wire format writes them), timestamps as ISO text, missing as null. */
export type { GateValue };

export interface GateResult {
  passed: boolean;
  /** The expression as given. */
  expression: string;
  /** Every field the expression names (canonical text, e.g. `metrics.loss.min`), with the run's value. */
  values: Record<string, GateValue>;
  /** Metrics the gate names that the run lacks or holds as NaN; any one fails the gate (see above). */
  missing: string[];
}

/** The fields an expression reads, in order of first appearance, without repeats (keyed by printField). */
export function gateFields(expr: FilterExpr): FieldRef[] {
  const seen = new Map<string, FieldRef>();
  const walk = (e: FilterExpr): void => {
    switch (e.type) {
      case 'and':
      case 'or':
        e.items.forEach(walk);
        return;
      case 'not':
        walk(e.item);
        return;
      default: {
        const name = printField(e.field);
        if (!seen.has(name)) seen.set(name, e.field);
      }
    }
  };
  walk(expr);
  return [...seen.values()];
}

/** Fields that the expression tests with IS [NOT] NULL somewhere. */
function nullTested(expr: FilterExpr, out = new Set<string>()): Set<string> {
  if (expr.type === 'and' || expr.type === 'or') for (const item of expr.items) nullTested(item, out);
  else if (expr.type === 'not') nullTested(expr.item, out);
  else if (expr.type === 'isNull') out.add(printField(expr.field));
  return out;
}

function parseGate(expression: string): FilterExpr {
  if (typeof expression !== 'string') throw new ValidationError('a gate must be a filter expression (a string)');
  const expr = parseFilter(expression);
  if (expr === null) throw new ValidationError('a gate needs an expression; an empty one would pass every run');
  return expr;
}

const own = <T>(record: Record<string, T>, key: string): T | undefined => (Object.hasOwn(record, key) ? record[key] : undefined);

function metricValue(v: number | null | undefined): GateValue {
  if (v === null || v === undefined) return null;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

function readValue(field: FieldRef, run: RunDetail, gates: readonly Pick<GateRecord, 'tier' | 'passed'>[]): GateValue {
  switch (field.kind) {
    case 'gate': {
      const g = gates.find((x) => x.tier === field.tier);
      return g ? (g.passed ? 'passed' : 'failed') : null;
    }
    case 'metric':
      return metricValue(own(run.metrics, field.key)?.[field.agg]);
    case 'param':
      return own(run.params, field.key) ?? null;
    case 'tag':
      return own(run.tags, field.key) ?? null;
    case 'attribute': {
      const date = (d: Date | null) => (d ? d.toISOString() : null);
      switch (field.name) {
        case 'status':
          return run.status;
        case 'tier':
          return run.tier;
        case 'name':
          return run.name;
        case 'id':
          return run.id;
        case 'experiment':
          return run.experimentId;
        case 'created':
          return date(run.createdAt);
        case 'started':
          return date(run.startedAt);
        case 'ended':
          return date(run.endedAt);
      }
    }
  }
}

/**
 * Evaluates a gate against a run (as `store.getRun` returns it) and the gate verdicts
 * recorded on it so far (`gate.<tier>` fields read them; none when left out). Throws a
 * FilterSyntaxError for an expression that does not parse and a ValidationError for an
 * empty one (loadPipelineConfig refuses both up front).
 */
export function evaluateGate(expression: string, run: RunDetail, gates: readonly Pick<GateRecord, 'tier' | 'passed'>[] = []): GateResult {
  const expr = parseGate(expression);
  const values: Record<string, GateValue> = {};
  const missing: string[] = [];
  const tested = nullTested(expr);
  for (const field of gateFields(expr)) {
    const name = printField(field);
    const value = readValue(field, run, gates);
    values[name] = value;
    if (field.kind === 'metric' && (value === null || value === 'NaN') && !tested.has(name)) missing.push(name);
  }
  const passed = missing.length === 0 && evaluateFilter(expr, filterRowFromRun(run, gates));
  return { passed, expression, values, missing };
}

/** Who recordGate's notes are by. */
export const GATE_NOTE_AUTHOR = 'cairn pipeline';

/**
 * Records a verdict on the run: the gate result (store.recordGateResult, which replaces
 * an earlier verdict of the same tier), which promotion, the schedules, `gate.<tier>`
 * filters, the portal and the CLI read; and a markdown note for people reading the run,
 * which nothing reads back. Recording the same verdict again (a retried job) adds no
 * second note.
 */
export async function recordGate(store: Store, runId: string, result: GateResult, tier: Tier): Promise<{ record: GateRecord; note: Note }> {
  const record = await store.recordGateResult({ runId, tier, passed: result.passed, expression: result.expression, values: result.values, missing: result.missing });
  const body = gateNote(result, tier);
  const target = { kind: 'run' as const, id: runId };
  const last = (await store.listNotes(target)).at(-1);
  const note = last && last.body === body && last.author === GATE_NOTE_AUTHOR ? last : await store.addNote(target, body, GATE_NOTE_AUTHOR);
  return { record, note };
}

/**
 * Evaluates the gate on an ended run and records the verdict. Give the run as
 * `store.getRun` returned it after it ended, or its id to read it fresh.
 */
export async function applyGate(store: Store, run: string | RunDetail, expression: string, tier: Tier): Promise<GateResult> {
  const detail = typeof run === 'string' ? await store.getRun(run) : run;
  const result = evaluateGate(expression, detail, await store.listGateResults({ runIds: [detail.id] }));
  await recordGate(store, detail.id, result, tier);
  return result;
}

/** The verdict of `tier`'s gate that the pipeline recorded on a run, or null. */
export async function recordedGate(store: Store, runId: string, tier: Tier): Promise<GateRecord | null> {
  return (await store.listGateResults({ runIds: [runId] })).find((g) => g.tier === tier) ?? null;
}

/** The note recordGate writes: a heading, the expression, a table of the values, what was missing. */
export function gateNote(result: GateResult, tier: Tier): string {
  const lines = [`**${tier} gate ${result.passed ? 'passed' : 'failed'}**`, '', ...codeBlock(result.expression), ''];
  const entries = Object.entries(result.values);
  if (entries.length) {
    lines.push('| field | value |', '| --- | --- |');
    for (const [field, value] of entries) lines.push(`| ${cell(code(field))} | ${cell(showValue(value))} |`);
    lines.push('');
  }
  if (result.missing.length) {
    lines.push(`Failed because the run has no usable value for ${result.missing.map(code).join(', ')} (a gate fails when a metric it names is missing or NaN).`, '');
  }
  return lines.join('\n').trimEnd();
}

function showValue(v: GateValue): string {
  if (v === null) return '_missing_';
  if (typeof v === 'number') return String(v);
  return code(v);
}

/** A fenced block longer than any backtick run inside, so the expression shows as written. */
function codeBlock(text: string): string[] {
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(text) + 1));
  return [`${fence}text`, text, fence];
}

function longestBacktickRun(text: string): number {
  return Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
}

/** Inline code that survives backticks inside (metric keys can hold them). */
function code(text: string): string {
  const fence = '`'.repeat(longestBacktickRun(text) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A table cell: pipes escaped, line breaks flattened. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replace(/\r?\n/g, ' ');
}
