import os from 'node:os';
import { Command } from 'commander';
import type { Artifact, MetricSummary, Note, PipelineDecisions, RunAttempt, RunDetail, Store } from '@cairn/store';
import { columnHeader, columnValue, pageColumns, parseColumn, splitColumnList, type ColumnField } from '../columns.ts';
import { globalOptions, withStore } from '../context.ts';
import { UsageError } from '../errors.ts';
import { limitParser } from '../limit.ts';
import {
  formatBytes,
  formatDateTime,
  formatDuration,
  formatNumber,
  formatRelative,
  oneLine,
  sanitize,
  statusStyle,
  statusText,
} from '../output/format.ts';
import { colors, info, out, outJson, outputWidth } from '../output/io.ts';
import { columnWidths, renderPairs, renderTable, tableWidth, type Cell, type Column } from '../output/table.ts';
import { shortIds } from '../short-ids.ts';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1_000;
/** Default params/metrics columns of `runs list` when --columns is not given (fewer when the terminal is narrow). */
const DEFAULT_PARAM_COLUMNS = 4;
const DEFAULT_METRIC_COLUMNS = 4;

export function registerRuns(program: Command): void {
  const runs = program.command('runs').description('search, inspect, compare and annotate runs');
  registerList(runs);
  registerShow(runs);
  registerCompare(runs);
  registerNote(runs);
}

// ---------------------------------------------------------------- list

interface ListOptions {
  experiment?: string[];
  filter?: string;
  sort?: string[];
  limit: number;
  cursor?: string;
  columns?: string[];
  all?: boolean;
  json?: boolean;
}

function registerList(runs: Command): void {
  runs
    .command('list')
    .alias('ls')
    .description('search runs, newest first')
    .option('-e, --experiment <name-or-id>', 'only runs of this experiment (repeat for several)', collect)
    .option('-f, --filter <expr>', "filter expression, e.g. \"metrics.acc > 0.9 and (params.opt = 'adam' or tags.team = 'nlp')\"")
    .option('-s, --sort <field...>', 'sort by a field, then asc or desc: --sort metrics.acc desc (repeat for ties; default: created desc)')
    .option('-n, --limit <n>', `runs per page, 1 to ${MAX_LIMIT}`, limitParser(MAX_LIMIT), DEFAULT_LIMIT)
    .option('--cursor <cursor>', 'the next page, from the cursor a previous page printed (same filter and sort)')
    .option('-c, --columns <fields>', 'params/metrics/tags columns to show, comma-separated: params.lr,metrics.acc.max', collect)
    .option('-a, --all', 'include runs of archived experiments')
    .option('--json', 'print {runs: [...], nextCursor} as JSON')
    .addHelpText(
      'after',
      `
Filter fields: params.<key>, metrics.<key>[.min|.max|.count], tags.<key>, status, tier, name,
id, experiment, created, started, ended. Operators: = != < <= > >= IN LIKE ILIKE IS [NOT] NULL,
combined with AND, OR, NOT and parentheses.`,
    )
    .action(async (opts: ListOptions, cmd: Command) => {
      const orderBy = sortSpecs(opts.sort ?? []);
      const explicit = splitColumnList(opts.columns ?? []).map(parseColumn);
      await withStore(globalOptions(cmd), async (store) => {
        const page = await store.searchRuns({
          experimentIds: opts.experiment,
          filter: opts.filter,
          orderBy,
          limit: opts.limit,
          cursor: opts.cursor ?? null,
          includeArchived: Boolean(opts.all),
        });
        const names = await experimentNames(store, page.runs);
        if (opts.json) {
          outJson({ runs: page.runs.map((r) => runJson(r, names)), nextCursor: page.nextCursor });
          return;
        }
        if (page.runs.length === 0) {
          info(opts.cursor ? 'No more runs.' : 'No runs match.');
          return;
        }
        const ids = await shortIds(store, page.runs.map((r) => r.id));
        printRunTable(page.runs, ids, names, explicit);
        if (page.nextCursor) info(colors.dim(`more runs: add --cursor ${page.nextCursor}`));
      });
    });
}

function printRunTable(list: RunDetail[], ids: Map<string, string>, names: Map<string, string>, explicit: ColumnField[]): void {
  const width = outputWidth();
  const fixed: Column[] = [
    { header: 'ID' },
    { header: 'NAME', max: 30, min: 12 },
    { header: 'EXPERIMENT', max: 20, min: 10 },
    { header: 'STATUS', max: 40, min: 20 },
    { header: 'TIER', max: 12, min: 4 },
    { header: 'CREATED' },
  ];
  const fixedRows = list.map((r): Cell[] => [
    { text: ids.get(r.id) ?? r.id, style: colors.yellow },
    r.name,
    names.get(r.experimentId) ?? r.experimentId,
    { text: statusText(r.status, r.statusReason), style: statusStyle(r.status) },
    r.tier ?? '',
    formatRelative(r.createdAt),
  ]);

  let fields = explicit;
  let hidden = 0;
  if (explicit.length === 0) {
    // The page's own params and metrics, alternating by priority, as many as fit.
    const { params, metrics } = pageColumns(list);
    const candidates: ColumnField[] = [];
    const p = params.slice(0, DEFAULT_PARAM_COLUMNS);
    const m = metrics.slice(0, DEFAULT_METRIC_COLUMNS);
    for (let i = 0; i < Math.max(p.length, m.length); i++) candidates.push(...(p[i] ? [p[i]!] : []), ...(m[i] ? [m[i]!] : []));
    // Room left once the name, status and so on are narrowed as far as they may be.
    let used = tableWidth(columnWidths(fixed, fixedRows).map((w, i) => Math.min(w, fixed[i]!.min ?? w)));
    const chosen = new Set<ColumnField>();
    for (const c of candidates) {
      const w = columnWidths([fieldColumn(c)], list.map((r) => [fieldCell(r, c)]))[0]!;
      if (used + 2 + w > width) continue;
      chosen.add(c);
      used += 2 + w;
    }
    fields = [...p.filter((c) => chosen.has(c)), ...m.filter((c) => chosen.has(c))];
    hidden = params.length + metrics.length - fields.length;
  }
  const columns = [...fixed, ...fields.map(fieldColumn)];
  const rows = list.map((r, i) => [...fixedRows[i]!, ...fields.map((c) => fieldCell(r, c))]);
  out(renderTable(columns, rows, { width }));
  if (hidden > 0) info(colors.dim(`${hidden} more params/metrics not shown; pick columns with --columns params.<key>,metrics.<key>`));
}

function fieldColumn(c: ColumnField): Column {
  return c.kind === 'metric' ? { header: columnHeader(c), align: 'right', max: 14 } : { header: columnHeader(c), max: 20, min: 6 };
}

function fieldCell(r: RunDetail, c: ColumnField): Cell {
  const v = columnValue(r, c);
  if (v === undefined) return { text: '-', style: colors.dim };
  return typeof v === 'number' ? formatNumber(v) : v;
}

/**
 * `--sort` takes fields and directions as separate words, so that
 * `--sort metrics.acc desc --sort created` reads as it would in SQL; a quoted
 * "metrics.acc desc" works too. Parsing the field itself is the store's job.
 */
function sortSpecs(words: string[]): string[] {
  const specs: string[] = [];
  for (const w of words) {
    if (/^(asc|desc)$/i.test(w)) {
      const last = specs.length - 1;
      if (last < 0 || /\s(asc|desc)$/i.test(specs[last]!)) throw new UsageError(`--sort: '${w}' must follow a field, e.g. --sort metrics.acc ${w}`);
      specs[last] += ` ${w}`;
    } else specs.push(w);
  }
  return specs;
}


function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

// ---------------------------------------------------------------- show

function registerShow(runs: Command): void {
  runs
    .command('show')
    .description("everything about one run: attributes, the pipeline's decisions and attempts, code, environment, params, metrics, tags, notes, artifacts")
    .argument('<id>', 'run id or a unique prefix of it (at least 4 characters)')
    .option('--json', 'print the run as JSON')
    .action(async (idArg: string, opts: { json?: boolean }, cmd: Command) => {
      await withStore(globalOptions(cmd), async (store) => {
        const id = await store.resolveRunId(idArg);
        const [run, notes, artifacts, pipeline] = await Promise.all([store.getRun(id), store.listNotes({ kind: 'run', id }), store.listArtifacts(id), store.getPipelineDecisions(id)]);
        const names = await experimentNames(store, [run]);
        if (opts.json) {
          outJson({ ...runJson(run, names), pipeline, notes: notes.map(noteJson), artifacts });
          return;
        }
        out(renderShow(run, names.get(run.experimentId) ?? run.experimentId, notes, artifacts, pipeline));
      });
    });
}

function renderShow(run: RunDetail, experiment: string, notes: Note[], artifacts: Artifact[], pipeline: PipelineDecisions): string {
  const sections: string[] = [];
  const when = (d: Date | null) => (d ? `${formatDateTime(d)} (${formatRelative(d)})` : '');
  const attrs: [string, Cell][] = [
    ['id', run.id],
    ['name', oneLine(run.name)],
    ['experiment', oneLine(experiment)],
    ['status', { text: statusText(run.status, run.statusReason), style: statusStyle(run.status) }],
    ['tier', run.tier ?? '-'],
    ['created', when(run.createdAt)],
  ];
  if (run.startedAt) attrs.push(['started', when(run.startedAt)]);
  if (run.endedAt) attrs.push(['ended', `${when(run.endedAt)}${run.startedAt ? `, after ${formatDuration(run.endedAt.getTime() - run.startedAt.getTime())}` : ''}`]);
  else if (run.heartbeatAt) attrs.push(['heartbeat', when(run.heartbeatAt)]);
  if (run.attempts > 1) attrs.push(['attempts', String(run.attempts)]);
  if (run.parentRunId) attrs.push(['parent', run.parentRunId]);
  sections.push(renderPairs(attrs, ''));

  const decided = renderPipeline(run, pipeline);
  if (decided.length) sections.push(section('pipeline', renderPairs(decided)));
  // A script's own start is its only attempt: nothing worth a table.
  if (pipeline.attempts.length > 1 || pipeline.attempts.some((a) => a.workerId !== null)) {
    sections.push(section(`attempts (${pipeline.attempts.length})`, indent(renderAttempts(pipeline.attempts, run.endedAt !== null))));
  }

  const code: [string, string][] = [];
  if (run.gitSha) code.push(['git', `${run.gitSha}${run.gitDirty ? ' (dirty: uncommitted changes)' : ''}`]);
  else if (run.gitDirty !== null) code.push(['git', run.gitDirty ? 'dirty' : 'clean']);
  if (run.codeHash) code.push(['code hash', run.codeHash]);
  if (run.snapshotIds.length) code.push(['snapshots', run.snapshotIds.join(', ')]);
  if (code.length) sections.push(section('code', renderPairs(code)));

  const env = flattenEnvironment(run.environment);
  if (env.length) sections.push(section('environment', renderPairs(env)));

  const params = Object.entries(run.params).sort(([a], [b]) => compareText(a, b));
  sections.push(section('params', params.length ? renderPairs(params.map(([k, v]) => [oneLine(k), oneLine(v)])) : none()));

  const metrics = Object.values(run.metrics).sort((a, b) => compareText(a.key, b.key));
  sections.push(section('metrics', metrics.length ? indent(renderMetricTable(metrics)) : none()));

  const tags = Object.entries(run.tags).sort(([a], [b]) => compareText(a, b));
  if (tags.length) sections.push(section('tags', renderPairs(tags.map(([k, v]) => [oneLine(k), oneLine(v)]))));

  if (notes.length) sections.push(section(`notes (${notes.length})`, notes.map(renderNote).join('\n\n')));

  if (artifacts.length) {
    const table = renderTable(
      [{ header: 'PATH' }, { header: 'SIZE', align: 'right' }, { header: 'TYPE' }, { header: 'HASH' }],
      artifacts.map((a) => [a.path, formatBytes(a.size), a.mediaType, { text: a.hash.slice(0, 16), style: colors.dim }]),
    );
    sections.push(section(`artifacts (${artifacts.length})`, indent(table)));
  }
  return sections.join('\n\n');
}

/** What the pipeline decided (from its own records, never from tags): queue prefix, gates per tier, sweep or trial, champion decisions. */
function renderPipeline(run: RunDetail, p: PipelineDecisions): [string, Cell][] {
  const rows: [string, Cell][] = [];
  if (run.queuePrefix !== null) rows.push(['queue prefix', oneLine(run.queuePrefix)]);
  const shown = (v: number | string | null) => (v === null ? 'missing' : typeof v === 'number' ? formatNumber(v, 6) : oneLine(v));
  for (const g of p.gates) {
    const values = Object.entries(g.values).map(([k, v]) => `${k} = ${shown(v)}`);
    const missing = g.missing.length ? `; missing ${g.missing.join(', ')}` : '';
    rows.push([`${g.tier} gate`, { text: `${g.passed ? 'passed' : 'failed'}: ${oneLine(g.expression)}${values.length ? ` (${values.join(', ')}${missing})` : ''}, ${formatDateTime(g.evaluatedAt)}`, style: g.passed ? colors.green : colors.red }]);
  }
  if (p.sweep) {
    const s = p.sweep;
    const best = s.best ? `; best ${formatNumber(s.best.value, 6)} in trial ${s.best.trial} (run ${s.best.runId})` : '';
    rows.push(['sweep', `${s.status}: ${s.strategy}, ${s.objective.metric} ${s.objective.direction}, ${s.maxTrials} trials, ${s.parallel} at once${best}`]);
  }
  if (p.trial) rows.push(['sweep trial', `trial ${p.trial.index} of sweep ${p.trial.sweepId}: ${oneLine(JSON.stringify(p.trial.params))}`]);
  for (const c of p.champion) rows.push([`champion (${c.tier})`, `${c.decision}: ${oneLine(c.detail)}`]);
  return rows;
}

/** Every pickup of the run, as the pipeline recorded it (run_attempts). */
function renderAttempts(attempts: RunAttempt[], runEnded: boolean): string {
  const outcomeStyle = (o: RunAttempt['outcome']) => (o === 'finished' ? colors.green : o === 'failed' || o === 'lost_lock' ? colors.red : o === null ? colors.cyan : colors.yellow);
  return renderTable(
    [
      { header: '#', align: 'right' },
      { header: 'WORKER', max: 60, min: 12 },
      { header: 'STARTED' },
      { header: 'ENDED' },
      { header: 'RESUMED FROM', align: 'right' },
      { header: 'OUTCOME' },
      { header: 'DETAIL', min: 12 },
    ],
    attempts.map((a) => [
      String(a.attempt),
      a.workerId === null ? { text: 'script', style: colors.dim } : oneLine(a.workerId),
      formatDateTime(a.startedAt),
      a.endedAt ? formatDateTime(a.endedAt) : '-',
      a.resumedFromStep === null ? '-' : String(a.resumedFromStep),
      // An attempt of an ended run that never said how it ended (a script's end, a worker gone): '-'.
      { text: a.outcome ? a.outcome.replace('_', ' ') : runEnded ? '-' : 'running', style: outcomeStyle(a.outcome) },
      a.detail ? oneLine(a.detail) : '',
    ]),
    { width: Math.max(0, outputWidth() - 2) },
  );
}

function renderMetricTable(metrics: MetricSummary[]): string {
  const precise = (n: number | null) => (n === null ? '-' : formatNumber(n, 6));
  return renderTable(
    [
      { header: 'KEY' },
      { header: 'LAST', align: 'right' },
      { header: 'STEP', align: 'right' },
      { header: 'MIN', align: 'right' },
      { header: 'MAX', align: 'right' },
      { header: 'COUNT', align: 'right' },
    ],
    metrics.map((m) => [m.key, precise(m.last), String(m.lastStep), precise(m.min), precise(m.max), String(m.count)]),
  );
}

function renderNote(n: Note): string {
  const head = colors.dim(`${formatDateTime(n.createdAt)}${n.author ? `  ${oneLine(n.author)}` : ''}`);
  const body = sanitize(n.body).replace(/\s+$/, '');
  return `  ${head}\n${body
    .split('\n')
    .map((l) => `    ${l}`.trimEnd())
    .join('\n')}`;
}

/** Environment as `key value` lines; nested objects as dotted keys, sizes readable. */
function flattenEnvironment(env: Record<string, unknown>, prefix = ''): [string, string][] {
  const lines: [string, string][] = [];
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => compareText(a, b))) {
    const key = `${prefix}${k}`;
    if (v === null || v === undefined) continue;
    if (k === 'memoryBytes' && typeof v === 'number') lines.push([key, formatBytes(v)]);
    else if (k === 'cpus' && typeof v === 'object' && v !== null && 'count' in v && 'model' in v) {
      const c = v as { count: unknown; model: unknown };
      lines.push([key, `${String(c.count)} × ${oneLine(String(c.model))}`]);
    } else if (Array.isArray(v)) lines.push([key, oneLine(v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', '))]);
    else if (typeof v === 'object') lines.push(...flattenEnvironment(v as Record<string, unknown>, `${key}.`));
    else lines.push([key, oneLine(String(v))]);
  }
  return lines;
}

// ---------------------------------------------------------------- compare

interface CompareRow {
  field: string;
  values: (string | null)[];
  differs: boolean;
}

function registerCompare(runs: Command): void {
  runs
    .command('compare')
    .alias('diff')
    .description('params, final metrics and status of runs side by side; rows that differ are marked *')
    .argument('<ids...>', 'two or more run ids or unique prefixes')
    .option('--json', 'print {runs, params, metrics} as JSON')
    .action(async (idArgs: string[], opts: { json?: boolean }, cmd: Command) => {
      if (idArgs.length < 2) throw new UsageError("compare needs at least two runs, e.g. 'cairn runs compare 019a3f2c 019a3f2d'");
      await withStore(globalOptions(cmd), async (store) => {
        const ids = await Promise.all(idArgs.map((a) => store.resolveRunId(a)));
        const list = await Promise.all(ids.map((id) => store.getRun(id)));
        const names = await experimentNames(store, list);
        if (opts.json) {
          outJson(compareJson(list, names));
          return;
        }
        const short = await shortIds(store, [...new Set(ids)]);
        out(renderCompare(list, short, names));
      });
    });
}

function compareJson(list: RunDetail[], names: Map<string, string>) {
  const paramKeys = unionKeys(list.map((r) => r.params));
  const metricKeys = unionKeys(list.map((r) => r.metrics));
  const col = <T>(pick: (r: RunDetail) => T | undefined) => list.map((r) => pick(r) ?? null);
  return {
    runs: list.map((r) => runHeadJson(r, names)),
    params: paramKeys.map((key) => {
      const values = col((r) => r.params[key]);
      return { key, values, differs: !allSame(values) };
    }),
    metrics: metricKeys.map((key) => {
      const last = col((r) => r.metrics[key]?.last);
      const min = col((r) => r.metrics[key]?.min);
      const max = col((r) => r.metrics[key]?.max);
      return { key, last, min, max, differs: !allSame(last) };
    }),
  };
}

function renderCompare(list: RunDetail[], short: Map<string, string>, names: Map<string, string>): string {
  const rows: CompareRow[] = [];
  const add = (field: string, values: (string | null)[]) => rows.push({ field, values, differs: !allSame(values) });
  add('name', list.map((r) => oneLine(r.name)));
  add('experiment', list.map((r) => oneLine(names.get(r.experimentId) ?? r.experimentId)));
  add('status', list.map((r) => statusText(r.status, r.statusReason)));
  add('tier', list.map((r) => r.tier));
  for (const key of unionKeys(list.map((r) => r.params))) add(columnHeader({ kind: 'param', key }), list.map((r) => r.params[key] ?? null));
  for (const key of unionKeys(list.map((r) => r.metrics))) {
    const ms = list.map((r) => r.metrics[key]);
    const field = columnHeader({ kind: 'metric', key, agg: 'last' });
    add(field, ms.map((m) => (m ? formatNumber(m.last, 6) : null)));
    // min/max only where they tell something the last value does not.
    const extra = (agg: 'min' | 'max') => ms.some((m) => m && !Object.is(m[agg], m.last) && m[agg] !== null);
    if (extra('min')) add(`${field}.min`, ms.map((m) => (m && m.min !== null ? formatNumber(m.min, 6) : null)));
    if (extra('max')) add(`${field}.max`, ms.map((m) => (m && m.max !== null ? formatNumber(m.max, 6) : null)));
  }
  for (const key of unionKeys(list.map((r) => r.tags))) add(columnHeader({ kind: 'tag', key }), list.map((r) => r.tags[key] ?? null));

  const columns: Column[] = [{ header: '' }, { header: 'FIELD', max: 40, min: 10 }, ...list.map((r) => ({ header: short.get(r.id) ?? r.id, max: 60, min: 8 }))];
  const table = rows.map((row): Cell[] => {
    const mark = row.differs ? colors.yellow : (s: string) => s;
    return [
      row.differs ? { text: '*', style: colors.yellow } : '',
      { text: oneLine(row.field), style: row.differs ? colors.bold : undefined },
      ...row.values.map((v, i): Cell => {
        if (v === null) return { text: '-', style: colors.dim };
        if (row.field === 'status') return { text: v, style: statusStyle(list[i]!.status) };
        return { text: oneLine(v), style: mark };
      }),
    ];
  });
  const differing = rows.filter((r) => r.differs).length;
  return `${renderTable(columns, table, { width: outputWidth() })}\n${colors.dim(`\n${differing} of ${rows.length} rows differ (marked *)`)}`;
}

function unionKeys(records: Record<string, unknown>[]): string[] {
  return [...new Set(records.flatMap((r) => Object.keys(r)))].sort(compareText);
}

function allSame(values: unknown[]): boolean {
  return values.every((v) => Object.is(v, values[0]));
}

// ---------------------------------------------------------------- note

function registerNote(runs: Command): void {
  runs
    .command('note')
    .description("add a markdown note to a run ('-' reads it from stdin), or list its notes when no text is given")
    .argument('<id>', 'run id or a unique prefix of it')
    .argument('[text...]', "the note; words are joined with spaces; '-' reads stdin")
    .option('--json', 'print the added note, or {notes: [...]}, as JSON')
    .action(async (idArg: string, words: string[], opts: { json?: boolean }, cmd: Command) => {
      const body = words.length === 1 && words[0] === '-' ? (await readStdin()).trimEnd() : words.join(' ');
      if (words.length > 0 && body.trim() === '') throw new UsageError('the note is empty: give some text, or pipe it in with -');
      await withStore(globalOptions(cmd), async (store) => {
        const id = await store.resolveRunId(idArg);
        if (words.length === 0) {
          const notes = await store.listNotes({ kind: 'run', id });
          if (opts.json) outJson({ notes: notes.map(noteJson) });
          else if (notes.length === 0) info(`run ${id} has no notes; add one with: cairn runs note ${idArg} "text"`);
          else out(notes.map(renderNote).join('\n\n'));
          return;
        }
        const note = await store.addNote({ kind: 'run', id }, body, author());
        if (opts.json) outJson(noteJson(note));
        else out(`Added a note to run ${id}`);
      });
    });
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) info('Type the note, then Ctrl-D:');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function author(): string | undefined {
  try {
    return os.userInfo().username || undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- shared

async function experimentNames(store: Store, list: RunDetail[]): Promise<Map<string, string>> {
  const ids = [...new Set(list.map((r) => r.experimentId))];
  const found = await Promise.all(ids.map((id) => store.getExperiment(id)));
  return new Map(found.map((e) => [e.id, e.name]));
}

/** Who a run is and how it ended: the head of every run in --json output. */
function runHeadJson(r: RunDetail, names: Map<string, string>) {
  return {
    id: r.id,
    name: r.name,
    experimentId: r.experimentId,
    experiment: names.get(r.experimentId) ?? null,
    status: r.status,
    statusReason: r.statusReason,
    tier: r.tier,
  };
}

/** A run in --json output: the store's fields in a fixed order, plus the experiment's name. */
function runJson(r: RunDetail, names: Map<string, string>) {
  return {
    ...runHeadJson(r, names),
    parentRunId: r.parentRunId,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    heartbeatAt: r.heartbeatAt,
    attempts: r.attempts,
    queuePrefix: r.queuePrefix,
    code: { gitSha: r.gitSha, gitDirty: r.gitDirty, codeHash: r.codeHash },
    snapshotIds: r.snapshotIds,
    environment: r.environment,
    params: r.params,
    metrics: r.metrics,
    tags: r.tags,
  };
}

function noteJson(n: Note) {
  return { id: n.id, body: n.body, author: n.author, createdAt: n.createdAt };
}

function section(title: string, body: string): string {
  return `${colors.bold(title)}\n${body}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function none(): string {
  return colors.dim('  (none)');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
