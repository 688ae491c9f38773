import { posix } from 'node:path';
import { CsvParser } from './csv.ts';
import { hashBytes } from './hash.ts';
import { readTree } from './manifest.ts';
import type { BlobId, BlobStore, FileEntry } from './types.ts';

/*
 * A light profile of a snapshot: file counts and sizes by extension, and for each CSV and
 * JSONL file (up to a size cap) a per-column summary. Read from the store chunk by chunk,
 * so memory stays at one chunk plus the per-column distinct sets, whatever the file size.
 *
 * Value rules:
 * - CSV (read by csv-parse, see csv.ts: RFC 4180, a BOM dropped, any line ends; the
 *   first record is the header; blank lines are skipped): an empty field is missing; other
 *   fields are 'boolean' (true/false, any case), 'integer', 'number' (decimal or exponent
 *   form) or 'string' by their text.
 * - JSONL (one JSON object per line, blank lines skipped): an absent key or null is
 *   missing; numbers are 'integer' when whole, booleans 'boolean', strings 'string' (their
 *   text is not re-interpreted), arrays and objects count as 'string' (their JSON text).
 * - A column's type is the one kind of its non-missing values, 'number' for integers mixed
 *   with numbers, 'mixed' for any other mix, 'empty' when every value is missing.
 */

export type ColumnType = 'number' | 'integer' | 'boolean' | 'string' | 'mixed' | 'empty';

export interface ColumnProfile {
  type: ColumnType;
  /** Rows where the value is missing (see the value rules above). */
  missing: number;
  /** Distinct non-missing values, counted up to `maxDistinct`; `distinctCapped` when there are more. */
  distinct: number;
  distinctCapped?: true;
}

export interface LabelProfile {
  column: string;
  /** Rows per class value (the value's text); rows with a missing label are in `missing`. */
  classes: Record<string, number>;
  missing: number;
  /** Rows whose class came after `maxClasses` distinct ones (not a label column, probably). */
  other?: number;
}

export interface TableProfile {
  format: 'csv' | 'jsonl';
  /** Data records (CSV: not counting the header; JSONL: valid object lines). */
  rows: number;
  /** In header order (CSV) or first-seen order (JSONL). */
  columns: Record<string, ColumnProfile>;
  label?: LabelProfile;
  /** CSV records with more fields than the header (the extra ones are ignored). */
  raggedRows?: number;
  /** JSONL lines that are not a JSON object. */
  invalidRows?: number;
  /** What was odd about the file: renamed headers, bad lines, unterminated quotes. */
  notes?: string[];
}

export interface ExtensionStats {
  files: number;
  bytes: number;
}

export interface SnapshotProfile {
  /** Regular files (symlinks are counted apart). */
  files: number;
  bytes: number;
  symlinks: number;
  /** By lower-cased extension with its dot ('.csv'); '' for none. */
  extensions: Record<string, ExtensionStats>;
  /** By file path. */
  tables: Record<string, TableProfile>;
  /** Tables not profiled (over the size cap) and the like. */
  notes: { path: string; note: string }[];
}

export interface ProfileOptions {
  store: BlobStore;
  /** A column that holds class labels; profiled in every table that has it. */
  labelColumn?: string;
  /** Tables larger than this are skipped with a note. Default 256 MiB. */
  maxTableBytes?: number;
  /** Distinct values tracked per column. Default 1000. */
  maxDistinct?: number;
  /** Label classes tracked per table; rows of further classes go to `other`. Default 1000. */
  maxClasses?: number;
}

export const DEFAULT_MAX_TABLE_BYTES = 256 * 1024 * 1024;
const MAX_NOTES = 20;
/** Longer values are kept in distinct sets by hash, so a text column does not hold megabytes. */
const LONG_VALUE = 128;

const KIND_INT = 1;
const KIND_NUM = 2;
const KIND_BOOL = 4;
const KIND_STR = 8;

function typeOf(kinds: number): ColumnType {
  switch (kinds) {
    case 0:
      return 'empty';
    case KIND_INT:
      return 'integer';
    case KIND_NUM:
    case KIND_INT | KIND_NUM:
      return 'number';
    case KIND_BOOL:
      return 'boolean';
    case KIND_STR:
      return 'string';
    default:
      return 'mixed';
  }
}

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOL_RE = /^(?:true|false)$/i;

function textKind(s: string): number {
  if (INT_RE.test(s)) return KIND_INT;
  if (NUM_RE.test(s)) return KIND_NUM;
  if (BOOL_RE.test(s)) return KIND_BOOL;
  return KIND_STR;
}

class ColumnAcc {
  kinds = 0;
  present = 0;
  readonly distinct = new Set<string>();
  capped = false;
  constructor(private readonly maxDistinct: number) {}

  add(kind: number, key: string): void {
    this.kinds |= kind;
    this.present++;
    if (this.capped) return;
    const k = key.length > LONG_VALUE ? `#${hashBytes(Buffer.from(key, 'utf8'))}` : key;
    if (this.distinct.has(k)) return;
    if (this.distinct.size >= this.maxDistinct) this.capped = true;
    else this.distinct.add(k);
  }

  finish(rows: number): ColumnProfile {
    const p: ColumnProfile = { type: typeOf(this.kinds), missing: rows - this.present, distinct: this.distinct.size };
    if (this.capped) p.distinctCapped = true;
    return p;
  }
}

class LabelAcc {
  readonly classes = new Map<string, number>();
  missing = 0;
  other = 0;
  constructor(
    readonly column: string,
    private readonly maxClasses: number,
  ) {}

  add(value: string | null): void {
    if (value === null) {
      this.missing++;
      return;
    }
    const c = this.classes.get(value);
    if (c !== undefined) this.classes.set(value, c + 1);
    else if (this.classes.size < this.maxClasses) this.classes.set(value, 1);
    else this.other++;
  }

  finish(): LabelProfile {
    const classes = Object.fromEntries([...this.classes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const p: LabelProfile = { column: this.column, classes, missing: this.missing };
    if (this.other > 0) p.other = this.other;
    return p;
  }
}

/** Collects notes up to a bound, counting the rest. */
class Notes {
  readonly list: string[] = [];
  private dropped = 0;
  add(s: string): void {
    if (this.list.length < MAX_NOTES) this.list.push(s);
    else this.dropped++;
  }
  finish(): string[] | undefined {
    if (this.dropped > 0) this.list.push(`… and ${this.dropped} more`);
    return this.list.length ? this.list : undefined;
  }
}

interface TableSink {
  push(text: string): void;
  finish(): TableProfile;
}

interface SinkOptions {
  labelColumn: string | undefined;
  maxDistinct: number;
  maxClasses: number;
}

function csvSink(o: SinkOptions): TableSink {
  const notes = new Notes();
  let header: string[] | null = null;
  let cols: ColumnAcc[] = [];
  let labelIdx = -1;
  let label: LabelAcc | null = null;
  let rows = 0;
  let ragged = 0;

  const parser = new CsvParser(
    (rec) => {
      if (!header) {
        const seen = new Set<string>();
        header = rec.map((raw, i) => {
          let name = raw === '' ? `column_${i + 1}` : raw;
          if (raw === '') notes.add(`header field ${i + 1} is empty; named ${JSON.stringify(name)}`);
          if (seen.has(name)) {
            let k = 2;
            while (seen.has(`${name}_${k}`)) k++;
            notes.add(`header ${JSON.stringify(name)} repeats; the copy at field ${i + 1} is named ${JSON.stringify(`${name}_${k}`)}`);
            name = `${name}_${k}`;
          }
          seen.add(name);
          return name;
        });
        cols = header.map(() => new ColumnAcc(o.maxDistinct));
        if (o.labelColumn !== undefined) {
          labelIdx = header.indexOf(o.labelColumn);
          if (labelIdx >= 0) label = new LabelAcc(o.labelColumn, o.maxClasses);
        }
        return;
      }
      rows++;
      if (rec.length > cols.length) {
        if (ragged === 0) notes.add(`record ${rows + 1} has ${rec.length} fields, the header ${cols.length}; extra fields are ignored`);
        ragged++;
      }
      const n = Math.min(rec.length, cols.length);
      for (let i = 0; i < n; i++) {
        const v = rec[i]!;
        if (v !== '') cols[i]!.add(textKind(v), v);
      }
      if (label) {
        const v = rec[labelIdx];
        label.add(v === undefined || v === '' ? null : v);
      }
    },
    (note) => notes.add(note),
  );

  return {
    push(text) {
      parser.push(text);
    },
    finish() {
      parser.finish();
      const names = header ?? [];
      if (!header) notes.add('no header record: the file is empty');
      const p: TableProfile = { format: 'csv', rows, columns: Object.fromEntries(names.map((nm, i) => [nm, cols[i]!.finish(rows)])) };
      if (label) p.label = label.finish();
      else if (o.labelColumn !== undefined && header) notes.add(`label column ${JSON.stringify(o.labelColumn)} not in the header`);
      if (ragged) p.raggedRows = ragged;
      const n = notes.finish();
      if (n) p.notes = n;
      return p;
    },
  };
}

function jsonKind(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? KIND_INT : KIND_NUM;
    case 'boolean':
      return KIND_BOOL;
    default:
      return KIND_STR;
  }
}

function jsonlSink(o: SinkOptions): TableSink {
  const notes = new Notes();
  const cols = new Map<string, ColumnAcc>();
  const label = o.labelColumn !== undefined ? new LabelAcc(o.labelColumn, o.maxClasses) : null;
  let labelSeen = false;
  let rows = 0;
  let invalid = 0;
  let line = 0;
  let rest = '';
  let first = true;

  const onLine = (raw: string): void => {
    line++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      invalid++;
      notes.add(`line ${line} is not valid JSON`);
      return;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      invalid++;
      notes.add(`line ${line} is not a JSON object`);
      return;
    }
    rows++;
    for (const [k, v] of Object.entries(obj)) {
      let col = cols.get(k);
      if (!col) cols.set(k, (col = new ColumnAcc(o.maxDistinct)));
      if (v !== null) col.add(jsonKind(v), typeof v === 'string' ? v : JSON.stringify(v));
    }
    if (label) {
      const has = Object.hasOwn(obj, label.column);
      const v: unknown = has ? (obj as Record<string, unknown>)[label.column] : undefined;
      if (has) labelSeen = true;
      label.add(v === undefined || v === null ? null : typeof v === 'string' ? v : JSON.stringify(v));
    }
  };

  return {
    push(text) {
      if (first) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        onLine(rest + text.slice(start, nl));
        rest = '';
        start = nl + 1;
      }
      rest += text.slice(start);
    },
    finish() {
      if (rest !== '') onLine(rest);
      rest = '';
      const p: TableProfile = { format: 'jsonl', rows, columns: Object.fromEntries([...cols].map(([k, c]) => [k, c.finish(rows)])) };
      if (label && labelSeen) p.label = label.finish();
      else if (label) notes.add(`label column ${JSON.stringify(label.column)} not in any record`);
      if (invalid) p.invalidRows = invalid;
      const n = notes.finish();
      if (n) p.notes = n;
      return p;
    },
  };
}

const TABLE_FORMATS: Record<string, (o: SinkOptions) => TableSink> = { '.csv': csvSink, '.jsonl': jsonlSink };

/** Lower-cased extension with its dot, '' for none; a leading-dot name ('.env') has none. */
export function extensionOf(path: string): string {
  return posix.extname(posix.basename(path)).toLowerCase();
}

async function profileTable(entry: FileEntry, store: BlobStore, sink: TableSink): Promise<TableProfile> {
  const decoder = new TextDecoder('utf-8');
  for (const c of entry.chunks) sink.push(decoder.decode(await store.get(c), { stream: true }));
  const tail = decoder.decode();
  if (tail) sink.push(tail);
  return sink.finish();
}

/**
 * Profiles snapshot `id`: every file counted by extension, every `.csv` and `.jsonl` file
 * up to `maxTableBytes` parsed into a TableProfile. Blobs are read verified, so a damaged
 * snapshot throws (BlobCorruptError, BlobNotFoundError, ManifestError) rather than profile wrong.
 */
export async function profileSnapshot(id: BlobId, options: ProfileOptions): Promise<SnapshotProfile> {
  const { store } = options;
  const maxTableBytes = options.maxTableBytes ?? DEFAULT_MAX_TABLE_BYTES;
  const sinkOptions: SinkOptions = {
    labelColumn: options.labelColumn,
    maxDistinct: options.maxDistinct ?? 1000,
    maxClasses: options.maxClasses ?? 1000,
  };
  const extensions = new Map<string, ExtensionStats>();
  const tables = new Map<string, TableProfile>();
  const notes: SnapshotProfile['notes'] = [];
  let files = 0;
  let bytes = 0;
  let symlinks = 0;

  for await (const { path, entry } of readTree(id, (x) => store.get(x))) {
    if (entry.kind === 'symlink') {
      symlinks++;
      continue;
    }
    if (entry.kind !== 'file') continue;
    files++;
    bytes += entry.size;
    const ext = extensionOf(path);
    const st = extensions.get(ext) ?? { files: 0, bytes: 0 };
    st.files++;
    st.bytes += entry.size;
    extensions.set(ext, st);
    const format = TABLE_FORMATS[ext];
    if (!format) continue;
    if (entry.size > maxTableBytes) {
      notes.push({ path, note: `not profiled: ${entry.size} bytes is over the ${maxTableBytes}-byte table cap` });
      continue;
    }
    tables.set(path, await profileTable(entry, store, format(sinkOptions)));
  }

  return {
    files,
    bytes,
    symlinks,
    extensions: Object.fromEntries([...extensions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    tables: Object.fromEntries(tables),
    notes,
  };
}

export interface Delta {
  a: number;
  b: number;
  /** b − a */
  delta: number;
}

export interface ClassShift {
  a: number;
  b: number;
  /** Share of labelled rows (plus `other`) in each profile, 0 when it has none. */
  shareA: number;
  shareB: number;
  /** shareB − shareA */
  shift: number;
}

export interface LabelDiff {
  column: string;
  /** Every class seen on either side, by class value. */
  classes: Record<string, ClassShift>;
  /** The class whose share moved most (by absolute value); null when there are no classes. */
  maxShift: { class: string; shift: number } | null;
}

export interface TableDiff {
  rows: Delta;
  columnsAdded: string[];
  columnsRemoved: string[];
  /** Missing values as a share of rows, for columns on both sides. */
  missingRate: Record<string, Delta>;
  /** Columns on both sides whose type changed. */
  typeChanges: Record<string, { a: ColumnType; b: ColumnType }>;
  /** Present when both sides profiled the same label column. */
  label?: LabelDiff;
}

export interface ProfileDiff {
  files: Delta;
  bytes: Delta;
  /** Extensions whose file count or bytes changed. */
  extensions: Record<string, { files: Delta; bytes: Delta }>;
  tablesAdded: string[];
  tablesRemoved: string[];
  /** Every table profiled on both sides. */
  tables: Record<string, TableDiff>;
}

const delta = (a: number, b: number): Delta => ({ a, b, delta: b - a });
const byText = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
const rate = (missing: number, rows: number): number => (rows === 0 ? 0 : missing / rows);

function diffLabels(a: LabelProfile, b: LabelProfile): LabelDiff {
  const total = (l: LabelProfile) => Object.values(l.classes).reduce((s, x) => s + x, 0) + (l.other ?? 0);
  const ta = total(a);
  const tb = total(b);
  const names = [...new Set([...Object.keys(a.classes), ...Object.keys(b.classes)])].sort(byText);
  const classes: [string, ClassShift][] = [];
  let maxShift: LabelDiff['maxShift'] = null;
  for (const c of names) {
    const ca = Object.hasOwn(a.classes, c) ? a.classes[c]! : 0;
    const cb = Object.hasOwn(b.classes, c) ? b.classes[c]! : 0;
    const shareA = ta === 0 ? 0 : ca / ta;
    const shareB = tb === 0 ? 0 : cb / tb;
    const shift = shareB - shareA;
    classes.push([c, { a: ca, b: cb, shareA, shareB, shift }]);
    if (!maxShift || Math.abs(shift) > Math.abs(maxShift.shift)) maxShift = { class: c, shift };
  }
  return { column: a.column, classes: Object.fromEntries(classes), maxShift };
}

export function diffTables(a: TableProfile, b: TableProfile): TableDiff {
  const ka = Object.keys(a.columns);
  const kb = Object.keys(b.columns);
  const inB = new Set(kb);
  const inA = new Set(ka);
  const missingRate: [string, Delta][] = [];
  const typeChanges: [string, { a: ColumnType; b: ColumnType }][] = [];
  for (const c of ka) {
    if (!inB.has(c)) continue;
    const ca = a.columns[c]!;
    const cb = b.columns[c]!;
    missingRate.push([c, delta(rate(ca.missing, a.rows), rate(cb.missing, b.rows))]);
    if (ca.type !== cb.type) typeChanges.push([c, { a: ca.type, b: cb.type }]);
  }
  const d: TableDiff = {
    rows: delta(a.rows, b.rows),
    columnsAdded: kb.filter((c) => !inA.has(c)),
    columnsRemoved: ka.filter((c) => !inB.has(c)),
    missingRate: Object.fromEntries(missingRate),
    typeChanges: Object.fromEntries(typeChanges),
  };
  if (a.label && b.label && a.label.column === b.label.column) d.label = diffLabels(a.label, b.label);
  return d;
}

/** What moved from profile `a` to profile `b`. */
export function diffProfiles(a: SnapshotProfile, b: SnapshotProfile): ProfileDiff {
  const extensions: [string, { files: Delta; bytes: Delta }][] = [];
  for (const ext of [...new Set([...Object.keys(a.extensions), ...Object.keys(b.extensions)])].sort(byText)) {
    const ea = Object.hasOwn(a.extensions, ext) ? a.extensions[ext]! : { files: 0, bytes: 0 };
    const eb = Object.hasOwn(b.extensions, ext) ? b.extensions[ext]! : { files: 0, bytes: 0 };
    if (ea.files !== eb.files || ea.bytes !== eb.bytes) extensions.push([ext, { files: delta(ea.files, eb.files), bytes: delta(ea.bytes, eb.bytes) }]);
  }
  const ta = Object.keys(a.tables);
  const tb = Object.keys(b.tables);
  const tables: [string, TableDiff][] = [];
  for (const p of ta.filter((x) => Object.hasOwn(b.tables, x)).sort(byText)) tables.push([p, diffTables(a.tables[p]!, b.tables[p]!)]);
  return {
    files: delta(a.files, b.files),
    bytes: delta(a.bytes, b.bytes),
    extensions: Object.fromEntries(extensions),
    tablesAdded: tb.filter((x) => !Object.hasOwn(a.tables, x)).sort(byText),
    tablesRemoved: ta.filter((x) => !Object.hasOwn(b.tables, x)).sort(byText),
    tables: Object.fromEntries(tables),
  };
}
