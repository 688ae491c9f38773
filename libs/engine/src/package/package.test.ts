import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { CairnError, InvalidStateError, ValidationError } from '@cairn/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTable } from '../data/table.ts';
import { exportModel, type ModelCard } from '../export.ts';
import type { ArtifactStore } from '../types.ts';
import { concatInputs, inputSchemaFromCard, loadPackagedModel, validateInput, writePackage, type ClassPrediction, type PackagedModel, type ValuesPrediction } from './index.ts';

let base: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-package-'));
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(base, `pkg${n++}`);

/** A Map-backed ArtifactStore: content-addressed like the real one, nothing on disk. */
class MemoryStore implements ArtifactStore {
  readonly blobs = new Map<string, Uint8Array>();
  async put(bytes: Uint8Array): Promise<string> {
    const id = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(id, bytes.slice());
    return id;
  }
  async get(id: string): Promise<Uint8Array> {
    const b = this.blobs.get(id);
    if (!b) throw new Error(`no blob ${id}`);
    return b.slice();
  }
}

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const CLASSES = ['setosa', 'versicolor', 'virginica'];
const MEANS = [5.8, 3.05, 3.75, 1.2];
const STDS = [0.83, 0.43, 1.76, 0.76];

/** What loadTable would put in a card's data for an iris-like table. */
function tableInfo(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    inputShape: [4],
    counts: { train: 120, validation: 30 },
    source: 'iris.csv',
    task: 'classification',
    features: FEATURES,
    label: 'species',
    normalization: { method: 'standard', offset: MEANS, scale: STDS },
    totalRecords: 150,
    classes: CLASSES,
    numClasses: 3,
    ...over,
  };
}

function cardFor(data: Record<string, unknown>): ModelCard {
  return { name: 'iris', params: { units: 8 }, metrics: { val_acc: 0.9 }, objective: { metric: 'val_acc', direction: 'maximize' }, backend: 'cpu', seed: 1, data, createdAt: '2024-01-01T00:00:00.000Z' };
}

function classifier(inputs: number, classes: number, activation: 'softmax' | 'linear' = 'softmax'): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 8, activation: 'relu', inputShape: [inputs] }));
  m.add(tfl.layers.dense({ units: classes, activation }));
  return m;
}

/** exportModel into a memory store, then writePackage from the stored blobs, as a registry would. */
async function packageModel(model: tfl.LayersModel, card: ModelCard, dir = freshDir(), force = false) {
  const store = new MemoryStore();
  const files = await exportModel(model, store, card);
  const [modelJson, weights] = await Promise.all([store.get(files[0]!.hash), store.get(files[1]!.hash)]);
  const manifest = await writePackage(dir, { modelJson, weights, card, name: 'iris', version: 3, artifactHash: files[0]!.hash }, { force });
  return { dir, manifest };
}

/** The model's own output on rows normalised by hand with the card's statistics. */
function expected(model: tfl.LayersModel, rows: number[][]): number[][] {
  return tf.tidy(() => (model.predict(tf.tensor2d(rows.map((r) => r.map((v, j) => (v - MEANS[j]!) / STDS[j]!)))) as tf.Tensor).arraySync() as number[][]);
}

const RAW = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 2.8, 4.4, 1.3],
  [4.4, 2.9, 1.4, 0.2],
];
const asRows = (raw: number[][]) => raw.map((r) => Object.fromEntries(FEATURES.map((f, j) => [f, r[j]!])));

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<CairnError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as CairnError;
  }
  throw new Error('expected a rejection');
}

describe('writePackage + loadPackagedModel: table classifier', () => {
  const model = classifier(4, 3);
  let dir: string;
  let loaded: PackagedModel;
  beforeAll(async () => {
    ({ dir } = await packageModel(model, cardFor(tableInfo())));
    loaded = await loadPackagedModel(dir, { maxBatch: 8 });
  });
  afterAll(() => loaded.dispose());

  it('writes the five files, a manifest whose hashes match them, and no temp folders', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['cairn-model.json', 'card.json', 'input-schema.json', 'model.json', 'weights.bin']);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'cairn-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'cairn-model/1', name: 'iris', version: 3 });
    expect(manifest.artifactHash).toMatch(/^[0-9a-f]{64}$/);
    for (const [file, entry] of Object.entries(manifest.files as Record<string, { sha256: string; size: number }>)) {
      const bytes = fs.readFileSync(path.join(dir, file));
      expect({ sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length }).toEqual(entry);
    }
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(fs.readdirSync(path.dirname(dir)).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
  });

  it('derives a table schema carrying the normalisation', () => {
    expect(loaded.schema).toEqual({ kind: 'table', features: FEATURES, task: 'classification', classes: CLASSES, normalization: { method: 'standard', offset: MEANS, scale: STDS } });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'input-schema.json'), 'utf8'))).toEqual(loaded.schema);
  });

  it('predicts what the model predicts on hand-normalised rows, with class names and probabilities summing to 1', async () => {
    const preds = (await loaded.predict({ rows: asRows(RAW) })) as ClassPrediction[];
    const want = expected(model, RAW);
    expect(preds).toHaveLength(RAW.length);
    preds.forEach((p, i) => {
      expect(Object.keys(p.probabilities)).toEqual(CLASSES);
      CLASSES.forEach((c, k) => expect(Math.abs(p.probabilities[c]! - want[i]![k]!)).toBeLessThan(1e-5));
      expect(Object.values(p.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const best = want[i]!.indexOf(Math.max(...want[i]!));
      expect(p.label).toBe(CLASSES[best]);
    });
  });

  it('micro-batches validated requests into one call and splits the results back', async () => {
    const reqs = [RAW.slice(0, 1), RAW.slice(1, 4), RAW.slice(0, 2)].map((r) => loaded.validate({ rows: asRows(r) }));
    const batched = await loaded.predictBatch(reqs);
    expect(batched.map((b) => b.length)).toEqual([1, 3, 2]);
    expect(batched[1]).toEqual(await loaded.predict({ rows: asRows(RAW.slice(1, 4)) }));
    expect(batched[2]).toEqual(await loaded.predict({ rows: asRows(RAW.slice(0, 2)) }));
    // A validated request shaped for another model is refused before tfjs.
    const foreign = validateInput({ kind: 'tensor', inputShape: [3], task: 'regression' }, { instances: [[1, 2, 3]] });
    expect((await rejection(loaded.predictBatch([foreign]))).message).toMatch(/batch 0: shape \[1, 3\].*\[rows, 4\]/);
    expect(() => concatInputs(loaded.schema, [])).toThrow(ValidationError);
  });

  const row = () => asRows([RAW[0]!])[0]!;
  it.each<[string, unknown, RegExp]>([
    ['a missing feature', { rows: [row(), (({ petal_width: _, ...r }) => r)(row())] }, /^invalid input: rows\[1\]\.petal_width: missing$/],
    ['an extra feature', { rows: [{ ...row(), colour: 1 }] }, /^invalid input: rows\[0\]: unknown feature "colour" \(features: sepal_length, sepal_width, petal_length, petal_width\)$/],
    ['a string value', { rows: [row(), row(), row(), { ...row(), petal_width: 'abc' }] }, /^invalid input: rows\[3\]\.petal_width: expected a finite number, got "abc"$/],
    ['NaN', { rows: [{ ...row(), sepal_length: NaN }] }, /^invalid input: rows\[0\]\.sepal_length: expected a finite number, got NaN$/],
    ['Infinity', { rows: [{ ...row(), sepal_width: Infinity }] }, /rows\[0\]\.sepal_width: expected a finite number, got Infinity/],
    ['null without a fill value', { rows: [{ ...row(), sepal_width: null }] }, /rows\[0\]\.sepal_width: expected a finite number, got null/],
    ['a float32 overflow', { rows: [{ ...row(), sepal_width: 1e300 }] }, /rows\[0\]\.sepal_width: 1e\+300 is too large for the model \(float32\)/],
    ['empty rows', { rows: [] }, /^invalid input: rows: the batch is empty/],
    ['too many rows', { rows: Array.from({ length: 9 }, row) }, /^invalid input: rows: 9 in one request is over the limit of 8$/],
    ['rows not an array', { rows: row() }, /^invalid input: rows: expected an array, got \{"sepal_length"/],
    ['a row not an object', { rows: [[5.1, 3.5, 1.4, 0.2]] }, /^invalid input: rows\[0\]: expected an object of feature values, got \[5\.1,3\.5,1\.4,0\.2\]$/],
    ['a stray top-level key', { rows: [row()], model: 'x' }, /^invalid input: unknown key "model"/],
    ['a string', 'hello', /^invalid input: expected an object \{ rows: .*got "hello"$/],
    ['null', null, /^invalid input: expected an object .*got null$/],
    ['an array', [row()], /^invalid input: expected an object .*got \[/],
  ])('refuses %s with a located ValidationError, and keeps working', async (_label, input, message) => {
    const before = tf.memory().numTensors;
    const e = await rejection(loaded.predict(input));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toMatch(message);
    // Nothing reached tfjs, and the model still answers.
    expect(tf.memory().numTensors).toBe(before);
    expect(await loaded.predict({ rows: [row()] })).toHaveLength(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('lists the first five problems and says it stopped', async () => {
    const e = await rejection(loaded.predict({ rows: Array.from({ length: 8 }, (_, i) => ({ ...row(), petal_length: `x${i}` })) }));
    expect(e.message).toBe(
      'invalid input: rows[0].petal_length: expected a finite number, got "x0"; rows[1].petal_length: expected a finite number, got "x1"; rows[2].petal_length: expected a finite number, got "x2"; rows[3].petal_length: expected a finite number, got "x3"; rows[4].petal_length: expected a finite number, got "x4"; (checking stopped after 5 problems)',
    );
  });

  it('refuses a batch over the default limit of 1024', () => {
    expect(() => validateInput(loaded.schema, { rows: Array.from({ length: 1025 }, row) })).toThrow(/1025 in one request is over the limit of 1024/);
    expect(validateInput(loaded.schema, { rows: Array.from({ length: 1024 }, row) }).rows).toBe(1024);
  });

  it('refuses to predict after dispose', async () => {
    const other = await loadPackagedModel(dir);
    other.dispose();
    expect(await rejection(other.predict({ rows: [row()] }))).toBeInstanceOf(InvalidStateError);
  });
});

describe('validateInput: the same normalisation as loadTable', () => {
  it.each([
    ['standard with impute-mean', { normalize: 'standard', missing: 'impute-mean' }],
    ['minmax', { normalize: 'minmax' }],
    ['none', { normalize: 'none' }],
  ] as const)('%s: raw rows give exactly the training xs', async (_label, opts) => {
    const csv = ['a,b,c,label', '1,10,0.5,x', '2,,0.25,y', '4,30,0.125,x', '8,40,,y', '3,25,0.75,x'];
    const withMissing = 'missing' in opts;
    const lines = withMissing ? csv : csv.map((l) => l.replace(',,', ',20,'));
    const file = path.join(base, `t${n++}.csv`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const data = await loadTable(file, { features: ['a', 'b', 'c'], label: 'label', task: 'classification', seed: 1, split: { validation: 0 }, ...opts });
    // The card holds the info as JSON, as runTraining stores it.
    const schema = inputSchemaFromCard(cardFor(JSON.parse(JSON.stringify({ ...data.info }))));
    if (schema.kind !== 'table') throw new Error('expected a table schema');
    expect(schema.normalization.method).toBe(opts.normalize);
    expect(schema.normalization.fill !== undefined).toBe(withMissing);
    const rows = lines.slice(1).map((l) => {
      const [a, b, c] = l.split(',').map((v) => (v === '' ? null : Number(v)));
      return { a, b, c };
    });
    const v = validateInput(schema, { rows });
    const train = data.train as { xs: tf.Tensor; ys: tf.Tensor };
    expect(v.shape).toEqual([5, 3]);
    expect(Array.from(v.values)).toEqual(Array.from(train.xs.dataSync()));
    tf.dispose([train.xs, train.ys]);
  });
});

describe('tensor schema', () => {
  it('predicts a multi-output regression from nested instances and checks their shape', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.flatten({ inputShape: [2, 3] }));
    m.add(tfl.layers.dense({ units: 2 }));
    const { dir } = await packageModel(m, cardFor({ inputShape: [2, 3], counts: { train: 10 } }));
    const loaded = await loadPackagedModel(dir);
    try {
      expect(loaded.schema).toEqual({ kind: 'tensor', inputShape: [2, 3], task: 'regression' });
      const instances = [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        [
          [-1, 0.5, 2],
          [0, 0, 9],
        ],
      ];
      const preds = (await loaded.predict({ instances })) as ValuesPrediction[];
      const want = tf.tidy(() => (m.predict(tf.tensor3d(instances)) as tf.Tensor).arraySync() as number[][]);
      preds.forEach((p, i) => p.values.forEach((v, k) => expect(Math.abs(v - want[i]![k]!)).toBeLessThan(1e-5)));
      expect(preds[0]!.values).toHaveLength(2);

      const bad: [unknown, RegExp][] = [
        [{ instances: [[[1, 2, 3], [4, 5]]] }, /^invalid input: instances\[0\]\[1\]: expected 3 elements, got 2$/],
        [{ instances: [instances[0], 5] }, /^invalid input: instances\[1\]: expected an array of 2, got 5$/],
        [{ instances: [[[1, 2, 3], [4, 5, '6']]] }, /^invalid input: instances\[0\]\[1\]\[2\]: expected a finite number, got "6"$/],
        [{ instances: [[[1, 2, 3], [4, 5, [6]]]] }, /instances\[0\]\[1\]\[2\]: expected a finite number, got \[6\]/],
        [{ instances: [] }, /instances: the batch is empty/],
        [{ rows: [] }, /unknown key "rows"; expected \{ instances: \[\.\.\.\] \} with each instance shaped \[2, 3\]/],
        [42, /^invalid input: expected an object \{ instances/],
      ];
      for (const [input, message] of bad) {
        const e = await rejection(loaded.predict(input));
        expect(e).toBeInstanceOf(ValidationError);
        expect(e.message).toMatch(message);
      }
      expect(await loaded.predict({ instances: [instances[1]] })).toHaveLength(1);
    } finally {
      loaded.dispose();
    }
  });

  it('applies softmax to a linear classifier and labels by index when classes are unnamed', async () => {
    const m = classifier(3, 3, 'linear');
    const { dir } = await packageModel(m, cardFor({ inputShape: [3], numClasses: 3, counts: { train: 10 } }));
    const loaded = await loadPackagedModel(dir);
    try {
      const x = [
        [0.5, -1, 2],
        [3, 0, -2],
      ];
      const preds = (await loaded.predict({ instances: x })) as ClassPrediction[];
      const want = tf.tidy(() => tf.softmax(m.predict(tf.tensor2d(x)) as tf.Tensor).arraySync() as number[][]);
      preds.forEach((p, i) => {
        expect(Object.keys(p.probabilities)).toEqual(['0', '1', '2']);
        want[i]!.forEach((w, k) => expect(Math.abs(p.probabilities[String(k)]! - w)).toBeLessThan(1e-5));
        expect(p.label).toBe(want[i]!.indexOf(Math.max(...want[i]!)));
      });
    } finally {
      loaded.dispose();
    }
  });
});

describe('damaged or inconsistent packages', () => {
  it('fails naming weights.bin when one byte of it changes, and naming a missing file', async () => {
    const { dir } = await packageModel(classifier(4, 3), cardFor(tableInfo()));
    const file = path.join(dir, 'weights.bin');
    const bytes = fs.readFileSync(file);
    bytes[10] = bytes[10]! ^ 0x01;
    fs.writeFileSync(file, bytes);
    const e = await rejection(loadPackagedModel(dir));
    expect(e.code).toBe('STORE_DAMAGED');
    expect(e.message).toMatch(/weights\.bin is corrupt: its sha256 is [0-9a-f]{64}, the manifest says/);

    // Repaired, the package loads again; then a listed file goes missing.
    bytes[10] = bytes[10]! ^ 0x01;
    fs.writeFileSync(file, bytes);
    (await loadPackagedModel(dir)).dispose();
    fs.rmSync(path.join(dir, 'card.json'));
    const missing = await rejection(loadPackagedModel(dir));
    expect(missing.code).toBe('STORE_DAMAGED');
    expect(missing.message).toMatch(/card\.json is missing/);
  });

  it('fails on a truncated file, an unknown format and a folder that is no package', async () => {
    const { dir } = await packageModel(classifier(4, 3), cardFor(tableInfo()));
    const schemaFile = path.join(dir, 'input-schema.json');
    fs.writeFileSync(schemaFile, fs.readFileSync(schemaFile).subarray(0, 20));
    expect((await rejection(loadPackagedModel(dir))).message).toMatch(/input-schema\.json has 20 bytes, the manifest says \d+/);

    const manifestFile = path.join(dir, 'cairn-model.json');
    fs.writeFileSync(manifestFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifestFile, 'utf8')), format: 'cairn-model/2' }));
    const format = await rejection(loadPackagedModel(dir));
    expect(format).toBeInstanceOf(ValidationError);
    expect(format.message).toMatch(/format "cairn-model\/2"; this loader reads cairn-model\/1/);

    expect((await rejection(loadPackagedModel(path.join(base, 'nowhere')))).code).toBe('NOT_FOUND');
  });

  it('refuses at load a model whose output does not match the named classes', async () => {
    const { dir } = await packageModel(classifier(4, 3), cardFor(tableInfo({ classes: ['a', 'b', 'c', 'd'], numClasses: 4 })));
    const e = await rejection(loadPackagedModel(dir));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toMatch(/outputs 3 values per row but the input schema names 4 classes/);
  });
});

describe('writePackage', () => {
  it('refuses a non-empty folder and leaves it untouched; force replaces it whole', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
    const e = await rejection(packageModel(classifier(4, 3), cardFor(tableInfo()), dir));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toMatch(/is not empty; .*pass force/);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);

    await packageModel(classifier(4, 3), cardFor(tableInfo()), dir, true);
    expect(fs.readdirSync(dir)).not.toContain('notes.txt');
    (await loadPackagedModel(dir)).dispose();
    expect(fs.readdirSync(path.dirname(dir)).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
  });

  it('writes into an existing empty folder', async () => {
    const dir = freshDir();
    fs.mkdirSync(dir);
    await packageModel(classifier(4, 3), cardFor(tableInfo()), dir);
    expect(fs.readdirSync(dir)).toContain('cairn-model.json');
  });

  it('refuses a card it cannot derive an input schema from, writing nothing', async () => {
    const dir = freshDir();
    const { normalization: _, ...noNorm } = tableInfo();
    const e = await rejection(packageModel(classifier(4, 3), cardFor(noNorm), dir));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toMatch(/^model card data: normalization: /);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(base).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('refuses weights that do not fit model.json', async () => {
    const store = new MemoryStore();
    const files = await exportModel(classifier(4, 3), store, cardFor(tableInfo()));
    const modelJson = await store.get(files[0]!.hash);
    const weights = (await store.get(files[1]!.hash)).subarray(4);
    const e = await rejection(writePackage(freshDir(), { modelJson, weights, card: cardFor(tableInfo()), name: 'iris', version: 1 }));
    expect(e.message).toMatch(/^weights\.bin has \d+ bytes but model\.json's weights need \d+$/);
  });
});

describe('inputSchemaFromCard', () => {
  it('names what is missing or inconsistent', () => {
    expect(() => inputSchemaFromCard(cardFor({ counts: { train: 1 } }))).toThrow(/^model card data: inputShape: /);
    expect(() => inputSchemaFromCard(cardFor(tableInfo({ features: FEATURES.slice(0, 3), inputShape: [3] })))).toThrow(/normalization\.offset: expected 3 values \(one per feature\), got 4/);
    expect(() => inputSchemaFromCard(cardFor(tableInfo({ classes: undefined })))).toThrow(/classes: a classification table needs its class names/);
    expect(() => inputSchemaFromCard({ name: 'x' } as ModelCard)).toThrow(/^model card: data: /);
    expect(() => inputSchemaFromCard(cardFor(tableInfo({ normalization: { method: 'standard', offset: MEANS, scale: [1, 0, 1, 1] } })))).toThrow(/a scale must not be 0/);
  });
});
