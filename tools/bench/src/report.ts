import os from 'node:os';
import { formatInt, formatMs, formatRate, formatRatio } from './stats.ts';

export type EngineName = 'pglite' | 'postgres';
/**
 * Where a row ran: a database engine, 'fs' for benchmarks of the local filesystem (snapshot),
 * a tfjs backend or 'torch' (the PyTorch reference) for the engine benchmark.
 */
export type RowEngine = EngineName | 'fs' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu' | 'torch' | 'redis' | 'http' | 'tfjs' | 'native-cpu' | 'native-cuda' | (string & {});

/** A target a figure must meet: throughput at least, or latency at most. */
export interface Target {
  op: '>=' | '<=';
  value: number;
}

/** A figure divided by a baseline measured in the same process and run. */
export interface Ratio {
  /** What the figure was divided by, e.g. "COPY" or "unfiltered". */
  vs: string;
  value: number;
}

/** One printed line of a benchmark's table (and one entry of the JSON output). */
export interface ResultRow {
  bench: string;
  engine: RowEngine;
  /** What was measured, e.g. "store.logMetrics 2 writers × 10k". */
  case: string;
  /** The headline figure, in `unit`. */
  value: number;
  /**
   * 'B/s' prints as GB/s or MB/s (decimal), 'x' is a plain ratio, 'count' a number of things, 'MiB' a size,
   * 'ex/s' training examples per second, 'jobs/s' queue jobs per second, '%' a percentage (accuracy), 'pt' percentage points (a difference of accuracies). NaN: not measured (the note says why).
   */
  unit: 'pts/s' | 'ms' | 'B/s' | 'x' | 'count' | 'MiB' | 'ex/s' | 'jobs/s' | '%' | 'pt';
  /** How the figure was reduced, e.g. "median of 3" or "p95 of 30". */
  stat: string;
  /** Secondary figures shown next to the headline, e.g. "p50 12.3 ms". */
  extra?: string;
  target?: Target;
  ratios?: Ratio[];
  /** Set for baseline rows (they have no target of their own). */
  baseline?: boolean;
  note?: string;
}

export function passes(row: ResultRow): boolean | undefined {
  if (!row.target) return undefined;
  return row.target.op === '>=' ? row.value >= row.target.value : row.value <= row.target.value;
}

export function formatValue(value: number, unit: ResultRow['unit']): string {
  switch (unit) {
    case 'ms':
      return formatMs(value);
    case 'B/s':
      return value >= 1e9 ? `${(value / 1e9).toFixed(2)} GB/s` : `${(value / 1e6).toFixed(0)} MB/s`;
    case 'x':
      return formatRatio(value);
    case 'count':
      return formatInt(value);
    case 'MiB':
      return `${formatInt(value)} MiB`;
    case '%':
      return `${value.toFixed(2)}%`;
    case 'pt':
      return `${value.toFixed(2)} pt`;
    default:
      return formatRate(value, unit);
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  /** Engine name → version text, for the engines this run uses. */
  engines: Partial<Record<EngineName, string>>;
}

export function machineInfo(engines: MachineInfo['engines']): MachineInfo {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model.trim() ?? 'unknown CPU', cores: cpus.length, node: process.version, engines };
}

/** The one-line header each benchmark prints before its table. */
export function header(bench: string, what: string, info: MachineInfo): string {
  const engines = Object.entries(info.engines).map(([name, v]) => `${name} ${v}`);
  return `== ${bench}: ${what} | ${info.cpu}, ${info.cores} cores, Node ${info.node}${engines.length ? ` | ${engines.join(' | ')}` : ''} ==`;
}

/** Lays rows out as an aligned text table (first row is the heading). */
export function table(cells: string[][]): string {
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

export function formatRows(rows: readonly ResultRow[]): string {
  const cells = [['engine', 'case', 'figure', 'stat', 'target', 'ratio', 'result']];
  for (const r of rows) {
    const pass = passes(r);
    cells.push([
      r.engine,
      r.case,
      Number.isNaN(r.value) ? 'n/a' : formatValue(r.value, r.unit) + (r.extra ? ` (${r.extra})` : ''),
      r.stat,
      r.target ? `${r.target.op === '>=' ? '≥' : '≤'} ${formatValue(r.target.value, r.unit)}` : '',
      (r.ratios ?? []).map((q) => `${formatRatio(q.value)} ${q.vs}`).join(', '),
      pass === undefined ? (r.baseline ? 'baseline' : '') : pass ? 'PASS' : 'FAIL',
    ]);
  }
  const notes = rows.filter((r) => r.note).map((r) => `  * ${r.engine} ${r.case}: ${r.note}`);
  return table(cells) + (notes.length ? `\n${notes.join('\n')}` : '');
}

/** Collects every benchmark's rows and free-text lines, for the final summary and --json. */
export class Report {
  readonly rows: ResultRow[] = [];
  readonly lines: { bench: string; text: string }[] = [];
  readonly skipped: { bench: string; engine: RowEngine; reason: string }[] = [];

  add(...rows: ResultRow[]): void {
    this.rows.push(...rows);
  }

  /** Prints a line and keeps it for the JSON output. */
  log(bench: string, text: string): void {
    console.log(text);
    this.lines.push({ bench, text });
  }

  skip(bench: string, engine: RowEngine, reason: string): void {
    console.log(`  (${engine} skipped: ${reason})`);
    this.skipped.push({ bench, engine, reason });
  }

  /** "targets met: 5 of 8" with the misses named. */
  summary(): string {
    const targeted = this.rows.filter((r) => r.target);
    const failed = targeted.filter((r) => !passes(r));
    const head = `targets met: ${targeted.length - failed.length} of ${targeted.length}`;
    return failed.length ? `${head}; missed: ${failed.map((r) => `${r.bench}/${r.engine} ${r.case}`).join('; ')}` : head;
  }

  toJSON(info: MachineInfo, argv: string[]) {
    return {
      when: new Date().toISOString(),
      argv,
      machine: info,
      results: this.rows.map((r) => ({ ...r, pass: passes(r) })),
      lines: this.lines,
      skipped: this.skipped,
    };
  }
}
