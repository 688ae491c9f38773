import { ValidationError } from '@cairn/schema';
import { exampleShape, type InputSchema, type TableInputSchema, type TensorInputSchema } from './input-schema.ts';

export const DEFAULT_MAX_BATCH = 1024;
/** Problems listed in one error message: enough to fix a request, short enough to log. */
const MAX_PROBLEMS = 5;

/**
 * A request that passed validation, ready for the model: `values` are already normalised
 * (table) and laid out row-major with `shape` = [rows, ...example shape]. A server can
 * validate each request alone, then hand several to predictBatch as one model call.
 */
export interface ValidatedInput {
  values: Float32Array;
  shape: number[];
  rows: number;
}

export interface ValidateOptions {
  /** Most rows (table) or instances (tensor) one request may carry. Default 1024. */
  maxBatch?: number;
}

/** Collects located problems; stops the walk once enough are known to be useful. */
class Problems {
  readonly list: string[] = [];
  add(where: string, message: string): void {
    if (!this.full) this.list.push(`${where}: ${message}`);
  }
  get full(): boolean {
    return this.list.length >= MAX_PROBLEMS;
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const more = this.full ? `; (checking stopped after ${MAX_PROBLEMS} problems)` : '';
    throw new ValidationError(`invalid input: ${this.list.join('; ')}${more}`);
  }
}

/** A value as a caller would recognise it in their own request. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return String(v); // NaN and Infinity, which JSON would hide
  if (typeof v === 'bigint') return `${v}n`;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `.name` for identifier-like keys, `["odd name"]` otherwise. */
function keyPath(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/** The request's batch array under `key`, checked for presence, size and stray top-level keys. */
function batchOf(input: unknown, key: 'rows' | 'instances', example: string, maxBatch: number): unknown[] {
  if (!isPlainObject(input)) throw new ValidationError(`invalid input: expected an object ${example}, got ${show(input)}`);
  const stray = Object.keys(input).filter((k) => k !== key);
  if (stray.length) throw new ValidationError(`invalid input: unknown key ${stray.map((k) => JSON.stringify(k)).join(', ')}; expected ${example}`);
  const batch = input[key];
  if (!Array.isArray(batch)) throw new ValidationError(`invalid input: ${key}: expected an array, got ${show(batch)}`);
  if (batch.length === 0) throw new ValidationError(`invalid input: ${key}: the batch is empty; send at least one`);
  // Checked before walking the batch, so an oversized request costs nothing to refuse.
  if (batch.length > maxBatch) throw new ValidationError(`invalid input: ${key}: ${batch.length} in one request is over the limit of ${maxBatch}`);
  return batch;
}

function validateTable(schema: TableInputSchema, input: unknown, maxBatch: number): ValidatedInput {
  const rows = batchOf(input, 'rows', '{ rows: [{ feature: number, ... }] }', maxBatch);
  const { features } = schema;
  const { offset, scale, fill } = schema.normalization;
  const known = new Set(features);
  const k = features.length;
  const values = new Float32Array(rows.length * k);
  const problems = new Problems();
  for (let i = 0; i < rows.length && !problems.full; i++) {
    const row = rows[i];
    if (!isPlainObject(row)) {
      problems.add(`rows[${i}]`, `expected an object of feature values, got ${show(row)}`);
      continue;
    }
    for (const key of Object.keys(row)) {
      if (!known.has(key)) problems.add(`rows[${i}]`, `unknown feature ${JSON.stringify(key)} (features: ${features.join(', ')})`);
    }
    for (let j = 0; j < k && !problems.full; j++) {
      const name = features[j]!;
      // hasOwn: a feature called "constructor" must not read Object.prototype's.
      const has = Object.hasOwn(row, name);
      let v = has ? row[name] : undefined;
      // Training filled missing values with the train mean only when the table was loaded
      // with missing: 'impute-mean' (fill present); an explicit null is how a caller says
      // "missing". Otherwise, as in training, a missing value is an error.
      if (v === null && fill) v = fill[j];
      if (!has) problems.add(`rows[${i}]${keyPath(name)}`, `missing${fill ? ' (send null for an unknown value)' : ''}`);
      else if (typeof v !== 'number' || !Number.isFinite(v)) problems.add(`rows[${i}]${keyPath(name)}`, `expected a finite number, got ${show(v)}`);
      else {
        // Computed in double and stored as float32, exactly as loadTable builds its xs.
        const x = (v - offset[j]!) / scale[j]!;
        if (Number.isFinite(Math.fround(x))) values[i * k + j] = x;
        else problems.add(`rows[${i}]${keyPath(name)}`, `${show(v)} is too large for the model (float32)`);
      }
    }
  }
  problems.throwIfAny();
  return { values, shape: [rows.length, k], rows: rows.length };
}

function validateTensor(schema: TensorInputSchema, input: unknown, maxBatch: number): ValidatedInput {
  const shape = schema.inputShape;
  const instances = batchOf(input, 'instances', `{ instances: [...] } with each instance shaped [${shape.join(', ')}]`, maxBatch);
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(instances.length * size);
  const problems = new Problems();
  let at = 0;
  // Depth-first over the expected shape, so values land in row-major order.
  const walk = (v: unknown, depth: number, where: string): void => {
    if (problems.full) return;
    if (depth === shape.length) {
      if (typeof v !== 'number' || !Number.isFinite(v)) problems.add(where, `expected a finite number, got ${show(v)}`);
      // A finite double can still overflow float32 to Infinity; tfjs must never see that.
      else if (!Number.isFinite(Math.fround(v))) problems.add(where, `${show(v)} is too large for the model (float32)`);
      else values[at++] = v;
      return;
    }
    const n = shape[depth]!;
    if (!Array.isArray(v)) return problems.add(where, `expected an array of ${n}, got ${show(v)}`);
    if (v.length !== n) return problems.add(where, `expected ${n} elements, got ${v.length}`);
    for (let i = 0; i < n; i++) walk(v[i], depth + 1, `${where}[${i}]`);
  };
  instances.forEach((inst, i) => walk(inst, 0, `instances[${i}]`));
  problems.throwIfAny();
  return { values, shape: [instances.length, ...shape], rows: instances.length };
}

/**
 * Checks a request against the schema and turns it into model-ready values. Throws a
 * ValidationError naming the first few problems with their location
 * (`rows[3].petal_width: expected a finite number, got "abc"`); nothing invalid gets through.
 */
export function validateInput(schema: InputSchema, input: unknown, options: ValidateOptions = {}): ValidatedInput {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new ValidationError(`maxBatch must be a positive integer, got ${String(maxBatch)}`);
  return schema.kind === 'table' ? validateTable(schema, input, maxBatch) : validateTensor(schema, input, maxBatch);
}

/**
 * Joins validated requests into one model input, remembering where each one's rows are
 * so the predictions can be split back. Refuses a ValidatedInput not shaped for this schema
 * (one validated against another model, or edited since).
 */
export function concatInputs(schema: InputSchema, inputs: readonly ValidatedInput[]): { values: Float32Array; shape: number[]; rows: number[] } {
  const example = exampleShape(schema);
  const size = example.reduce((a, b) => a * b, 1);
  let total = 0;
  inputs.forEach((v, i) => {
    const ok =
      Number.isInteger(v.rows) && v.rows > 0 && v.shape.length === example.length + 1 && v.shape[0] === v.rows && example.every((d, j) => v.shape[j + 1] === d) && v.values.length === v.rows * size;
    if (!ok) throw new ValidationError(`batch ${i}: shape [${v.shape.join(', ')}] (${v.values.length} values) does not fit this model's input [rows, ${example.join(', ')}]`);
    total += v.rows;
  });
  if (total === 0) throw new ValidationError('nothing to predict: no validated inputs given');
  if (inputs.length === 1) return { values: inputs[0]!.values, shape: inputs[0]!.shape, rows: [inputs[0]!.rows] };
  const values = new Float32Array(total * size);
  let offset = 0;
  for (const v of inputs) {
    values.set(v.values, offset);
    offset += v.values.length;
  }
  return { values, shape: [total, ...example], rows: inputs.map((v) => v.rows) };
}
