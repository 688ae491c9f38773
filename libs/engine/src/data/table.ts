import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { NotFoundError, ValidationError } from '@cairn/schema';
import { parseCsv } from '@cairn/snapshot';
import type { DataInfo, TrainingData } from '../types.ts';
import { DataError, assignRecords, oneHot, sortClasses, type SelectOptions } from './records.ts';

export interface TableOptions extends SelectOptions {
  /** Feature columns, in order; 'all-but-label': every column but the label and the id. */
  features: string[] | 'all-but-label';
  label: string;
  task: 'classification' | 'regression';
  /** Column holding a stable record id (subsets and splits hash it). Default: the row index as text. */
  id?: string;
  /**
   * Feature scaling, with statistics from the train split only (returned in
   * info.normalization so an export can apply them): 'standard' (x - mean) / std,
   * 'minmax' (x - min) / (max - min). A constant column gets scale 1. Default 'none'.
   */
  normalize?: 'standard' | 'minmax' | 'none';
  /**
   * A missing feature value ('' / NA / NaN / null in CSV, null or an absent key in JSONL):
   * 'error' (default) fails naming the row and column; 'impute-mean' fills it with the
   * train split's mean of that column (in info.normalization.fill). A missing label is
   * always an error.
   */
  missing?: 'error' | 'impute-mean';
  /** Classification: the class list, in order (default: the sorted labels of the whole file). */
  classes?: string[];
  /** Default: from the file's extension (.csv, .jsonl, .ndjson). */
  format?: 'csv' | 'jsonl';
}

export interface Normalization {
  method: 'standard' | 'minmax' | 'none';
  /** Per feature: x' = (x - offset) / scale. */
  offset: number[];
  scale: number[];
  /** Per feature: the value a missing one was replaced with (missing: 'impute-mean'). */
  fill?: number[];
}

export interface TableInfo extends DataInfo {
  source: string;
  task: 'classification' | 'regression';
  features: string[];
  label: string;
  normalization: Normalization;
  /** Rows in the file, before the subset. */
  totalRecords: number;
}

export interface TableData extends TrainingData {
  info: TableInfo;
}

const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null']);

interface RawTable {
  columns: string[];
  rows: unknown[][];
  /** Where row i is, for messages: 'row 3' (CSV data rows from 1) or 'line 4' (JSONL). */
  where(i: number): string;
  /** The number `where` names (for DataError.row). */
  rowOf(i: number): number;
}

interface Rec {
  id: string;
  x: Float64Array;
  label: string | number;
}

/**
 * Reads a CSV (RFC 4180, header row first) or JSON Lines table into train / validation
 * (/ test) tensors: xs float32 [n, features]; ys one-hot [n, classes] for classification
 * (classes in info.classes), [n, 1] for regression. Every row is checked, not only those in
 * the subset, so a bad row fails the cheap tier too. Problems are DataErrors naming the
 * file, row, column and value.
 */
export async function loadTable(file: string, options: TableOptions): Promise<TableData> {
  const source = path.basename(file);
  const format = options.format ?? formatOf(file);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('data file', file);
    throw e;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const table = format === 'csv' ? readCsv(text, source) : readJsonl(text, source);
  return buildTable(table, options, source);
}

function formatOf(file: string): 'csv' | 'jsonl' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new ValidationError(`${path.basename(file)}: unknown table format '${ext}': use .csv or .jsonl, or pass format`);
}

function readCsv(text: string, source: string): RawTable {
  const records = parseCsv(text);
  const header = records.shift();
  if (!header) throw new DataError(`${source}: the file is empty (a header row is needed)`, { file: source });
  const columns = header.map((h) => h.trim());
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new DataError(`${source}: column "${c}" appears twice in the header`, { file: source, column: c });
    seen.add(c);
  }
  records.forEach((r, i) => {
    if (r.length !== columns.length) {
      throw new DataError(`${source}: row ${i + 1} has ${r.length} fields but the header has ${columns.length}`, { file: source, row: i + 1 });
    }
  });
  return { columns, rows: records, where: (i) => `row ${i + 1}`, rowOf: (i) => i + 1 };
}

function readJsonl(text: string, source: string): RawTable {
  const objects: Record<string, unknown>[] = [];
  const lines: number[] = [];
  const columns: string[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new DataError(`${source}: line ${i + 1} is not valid JSON: ${(e as Error).message}`, { file: source, row: i + 1, cause: e });
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataError(`${source}: line ${i + 1} is not a JSON object`, { file: source, row: i + 1 });
    for (const k of Object.keys(v)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
    objects.push(v as Record<string, unknown>);
    lines.push(i + 1);
  });
  return { columns, rows: objects.map((o) => columns.map((c) => o[c])), where: (i) => `line ${lines[i]}`, rowOf: (i) => lines[i]! };
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** A number, null for a missing value, undefined for a value that is not a number. */
function toNumber(v: unknown): number | null | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const t = v.trim();
    if (MISSING.has(t.toLowerCase())) return null;
    const n = Number(t);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function buildTable(table: RawTable, o: TableOptions, source: string): TableData {
  if (o.task !== 'classification' && o.task !== 'regression') throw new ValidationError(`task must be 'classification' or 'regression', got ${String(o.task)}`);
  const normalize = o.normalize ?? 'none';
  if (!['standard', 'minmax', 'none'].includes(normalize)) throw new ValidationError(`normalize must be 'standard', 'minmax' or 'none', got ${String(normalize)}`);
  const missingMode = o.missing ?? 'error';
  const { columns, rows } = table;
  const present = `columns present: ${columns.map((c) => JSON.stringify(c)).join(', ') || '(none)'}`;
  const colIndex = (name: string, role: string): number => {
    const i = columns.indexOf(name);
    if (i < 0) throw new DataError(`${source}: ${role} column "${name}" is missing; ${present}`, { file: source, column: name });
    return i;
  };
  const labelAt = colIndex(o.label, 'label');
  const idAt = o.id === undefined ? -1 : colIndex(o.id, 'id');
  const features = o.features === 'all-but-label' ? columns.filter((c) => c !== o.label && c !== o.id) : [...o.features];
  if (features.length === 0) throw new DataError(`${source}: no feature columns; ${present}`, { file: source });
  if (features.includes(o.label)) throw new ValidationError(`${source}: the label column "${o.label}" is also listed as a feature`);
  const featAt = features.map((f) => colIndex(f, 'feature'));

  const recs: Rec[] = [];
  const ids = new Map<string, number>();
  rows.forEach((row, i) => {
    const where = table.where(i);
    let id = String(i);
    if (idAt >= 0) {
      const raw = row[idAt];
      if (raw === null || raw === undefined || String(raw).trim() === '') throw new DataError(`${source}: ${where}: the id column "${o.id}" is empty`, { file: source, row: table.rowOf(i), column: o.id! });
      id = String(raw).trim();
      const before = ids.get(id);
      if (before !== undefined) throw new DataError(`${source}: ${where}: id ${show(id)} is also the id of ${table.where(before)}; ids must be unique`, { file: source, row: table.rowOf(i), column: o.id!, value: id });
      ids.set(id, i);
    }
    const x = new Float64Array(features.length);
    featAt.forEach((at, j) => {
      const v = toNumber(row[at]);
      if (v === undefined) {
        throw new DataError(`${source}: ${where}, column "${features[j]}": ${show(row[at])} is not a number`, { file: source, row: table.rowOf(i), column: features[j]!, value: row[at] });
      }
      if (v === null) {
        if (missingMode === 'error') {
          throw new DataError(`${source}: ${where}, column "${features[j]}": the value is missing (pass missing: 'impute-mean' to fill it with the train mean)`, {
            file: source,
            row: table.rowOf(i),
            column: features[j]!,
            value: row[at],
          });
        }
        x[j] = NaN;
      } else x[j] = v;
    });
    const rawLabel = row[labelAt];
    let label: string | number;
    if (o.task === 'regression') {
      const v = toNumber(rawLabel);
      if (v === undefined || v === null) {
        const why = v === null ? 'the label is missing' : `${show(rawLabel)} is not a number`;
        throw new DataError(`${source}: ${where}, column "${o.label}": ${why}`, { file: source, row: table.rowOf(i), column: o.label, value: rawLabel });
      }
      label = v;
    } else {
      if (rawLabel === null || rawLabel === undefined || (typeof rawLabel === 'string' && rawLabel.trim() === '')) {
        throw new DataError(`${source}: ${where}, column "${o.label}": the label is missing`, { file: source, row: table.rowOf(i), column: o.label, value: rawLabel });
      }
      if (typeof rawLabel === 'object') throw new DataError(`${source}: ${where}, column "${o.label}": ${show(rawLabel)} is not a class name`, { file: source, row: table.rowOf(i), column: o.label, value: rawLabel });
      label = String(rawLabel).trim();
    }
    recs.push({ id, x, label });
  });
  if (recs.length === 0) throw new DataError(`${source}: the table has no rows`, { file: source });

  let classes: string[] | undefined;
  if (o.task === 'classification') {
    classes = o.classes ? [...o.classes] : sortClasses(recs.map((r) => r.label as string));
    const known = new Set(classes);
    recs.forEach((r, i) => {
      if (!known.has(r.label as string)) {
        throw new DataError(`${source}: ${table.where(i)}, column "${o.label}": class ${show(r.label)} is not one of the classes given (${classes!.join(', ')})`, {
          file: source,
          row: table.rowOf(i),
          column: o.label,
          value: r.label,
        });
      }
    });
  }

  const parts = assignRecords(recs, (r) => r.id, o, source);
  const norm = statistics(parts.train, features, normalize, missingMode === 'impute-mean', source);
  const classIndex = new Map((classes ?? []).map((c, i) => [c, i]));
  const toSplit = (list: Rec[]) => {
    const n = list.length;
    const k = features.length;
    const xs = new Float32Array(n * k);
    list.forEach((r, i) => {
      for (let j = 0; j < k; j++) {
        const v = Number.isNaN(r.x[j]!) ? norm.fill![j]! : r.x[j]!;
        xs[i * k + j] = (v - norm.offset[j]!) / norm.scale[j]!;
      }
    });
    const ys =
      o.task === 'classification'
        ? tf.tensor2d(oneHot(list.map((r) => classIndex.get(r.label as string)!), classes!.length), [n, classes!.length])
        : tf.tensor2d(Float32Array.from(list, (r) => r.label as number), [n, 1]);
    return { xs: tf.tensor2d(xs, [n, k]), ys };
  };

  const counts: DataInfo['counts'] = { train: parts.train.length };
  const info: TableInfo = {
    inputShape: [features.length],
    counts,
    source,
    task: o.task,
    features,
    label: o.label,
    normalization: norm,
    totalRecords: recs.length,
  };
  if (classes) {
    info.classes = classes;
    info.numClasses = classes.length;
  }
  const data: TableData = { train: toSplit(parts.train), info };
  if (o.split.validation > 0) {
    data.validation = toSplit(parts.validation);
    counts.validation = parts.validation.length;
  }
  if ((o.split.test ?? 0) > 0) {
    data.test = toSplit(parts.test);
    counts.test = parts.test.length;
  }
  return data;
}

/** Offsets, scales and fill values from the train split (missing values skipped). */
function statistics(train: Rec[], features: string[], method: Normalization['method'], impute: boolean, source: string): Normalization {
  const k = features.length;
  const offset: number[] = [];
  const scale: number[] = [];
  const fill: number[] = [];
  for (let j = 0; j < k; j++) {
    let n = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const r of train) {
      const v = r.x[j]!;
      if (Number.isNaN(v)) continue;
      n++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (n === 0) {
      if (!impute && method === 'none') {
        offset.push(0);
        scale.push(1);
        continue;
      }
      throw new DataError(`${source}: column "${features[j]}" has no values in the train split`, { file: source, column: features[j]! });
    }
    const mean = sum / n;
    fill.push(mean);
    if (method === 'standard') {
      let ss = 0;
      for (const r of train) {
        const v = r.x[j]!;
        if (!Number.isNaN(v)) ss += (v - mean) ** 2;
      }
      const std = Math.sqrt(ss / n);
      offset.push(mean);
      scale.push(std > 0 ? std : 1);
    } else if (method === 'minmax') {
      offset.push(min);
      scale.push(max > min ? max - min : 1);
    } else {
      offset.push(0);
      scale.push(1);
    }
  }
  return impute ? { method, offset, scale, fill } : { method, offset, scale };
}
