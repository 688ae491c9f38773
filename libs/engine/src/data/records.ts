import { ValidationError } from '@cairn/schema';
import { subsetPosition } from '@cairn/snapshot';

/**
 * Bad data: a missing column, a value of the wrong type, an image of the wrong size. A
 * ValidationError (code INVALID_INPUT), so a run whose data() throws it ends as failed
 * with this message as its reason. `file`, `row`, `column` and `value` say where, when known.
 */
export class DataError extends ValidationError {
  readonly file?: string;
  readonly row?: number;
  readonly column?: string;
  readonly value?: unknown;
  constructor(message: string, where: { file?: string; row?: number; column?: string; value?: unknown; cause?: unknown } = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    if (where.file !== undefined) this.file = where.file;
    if (where.row !== undefined) this.row = where.row;
    if (where.column !== undefined) this.column = where.column;
    if ('value' in where) this.value = where.value;
  }
}

/** Fractions of the records held out; the rest is the train split. */
export interface SplitFractions {
  validation: number;
  test?: number;
}

export type SplitName = 'train' | 'validation' | 'test';

/** How records are picked and split: the same for tables and image folders. */
export interface SelectOptions {
  /** Fraction (0, 1] of records kept, by hashing record ids (pass ctx.subset). Default 1. */
  subset?: number;
  /** Salts the split assignment (pass ctx.seed, or a constant to keep one split across a seed sweep). */
  seed: number;
  split: SplitFractions;
}

/**
 * The split a record belongs to. With u = subsetPosition(id, `split:${seed}:`) (BLAKE3 of
 * salt + id, as a number in [0, 1)): test when u < test, validation when u < test +
 * validation, else train. A record's split depends on its id and the seed alone, so it
 * stays put when other records are added or removed. The subset uses another salt (''),
 * so which records a tier keeps does not depend on the split or the seed.
 */
export function splitOf(id: string, seed: number, split: SplitFractions): SplitName {
  const test = split.test ?? 0;
  const u = subsetPosition(id, `split:${seed}:`);
  if (u < test) return 'test';
  if (u < test + split.validation) return 'validation';
  return 'train';
}

export function checkSelectOptions(o: SelectOptions): void {
  const subset = o.subset ?? 1;
  if (typeof subset !== 'number' || !(subset > 0 && subset <= 1)) throw new ValidationError(`subset must be a fraction in (0, 1], got ${String(o.subset)}`);
  if (typeof o.seed !== 'number' || !Number.isFinite(o.seed)) throw new ValidationError(`seed must be a finite number, got ${String(o.seed)}`);
  const v = o.split?.validation;
  const t = o.split?.test ?? 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ValidationError(`split.validation must be a fraction in [0, 1), got ${String(v)}`);
  if (typeof t !== 'number' || !(t >= 0 && t < 1)) throw new ValidationError(`split.test must be a fraction in [0, 1), got ${String(t)}`);
  if (v + t >= 1) throw new ValidationError(`split.validation + split.test must leave records for training, got ${v} + ${t}`);
}

export interface Assigned<T> {
  train: T[];
  validation: T[];
  test: T[];
  /** Records before the subset was taken. */
  total: number;
}

/**
 * Keeps the records in the subset and deals them to splits, each in input order. A split
 * asked for (fraction > 0) that ends up empty is an error naming the counts, so a tier with
 * too small a subset fails with a reason instead of training without validation.
 */
export function assignRecords<T>(records: readonly T[], idOf: (r: T) => string, o: SelectOptions, source: string): Assigned<T> {
  checkSelectOptions(o);
  const subset = o.subset ?? 1;
  const out: Assigned<T> = { train: [], validation: [], test: [], total: records.length };
  for (const r of records) {
    const id = idOf(r);
    if (subset < 1 && !(subsetPosition(id) < subset)) continue;
    out[splitOf(id, o.seed, o.split)].push(r);
  }
  const kept = out.train.length + out.validation.length + out.test.length;
  const asked: [SplitName, number][] = [
    ['train', 1],
    ['validation', o.split.validation],
    ['test', o.split.test ?? 0],
  ];
  for (const [name, fraction] of asked) {
    if (fraction > 0 && out[name].length === 0) {
      const sub = subset < 1 ? ` (a ${subset} subset of ${records.length})` : '';
      throw new DataError(`${source}: the ${name} split is empty: ${kept} records${sub}, ${name} fraction ${name === 'train' ? 'the rest' : fraction}; use a larger subset or fraction`, { file: source });
    }
  }
  return out;
}

/**
 * Class names in a stable order: numerically when every name is a number ('2' before
 * '10'), else by code unit (the same on every machine and locale).
 */
export function sortClasses(names: Iterable<string>): string[] {
  const all = [...new Set(names)];
  const numeric = all.length > 0 && all.every((s) => s.trim() !== '' && Number.isFinite(Number(s)));
  return all.sort(numeric ? (a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One-hot rows for class indices. */
export function oneHot(indices: readonly number[], numClasses: number): Float32Array {
  const out = new Float32Array(indices.length * numClasses);
  indices.forEach((c, i) => (out[i * numClasses + c] = 1));
  return out;
}
