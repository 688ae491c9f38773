import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ValidationError } from '@cairn/schema';
import { inSubset } from '@cairn/snapshot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, loadTable, splitOf, type TableOptions } from '../index.ts';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-table-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function rows(t: tf.Tensor): number[][] {
  return t.arraySync() as number[][];
}

/** A CSV whose first feature is the record's key, so a split's xs say which records it holds. */
function keyed(n: number, start = 0): string {
  const lines = ['key,a,label'];
  for (let i = start; i < start + n; i++) lines.push(`${i},${(i * 7) % 13},${i % 3 === 0 ? 'x' : 'y'}`);
  return lines.join('\n') + '\n';
}

const keyedOptions: TableOptions = { features: ['key', 'a'], label: 'label', task: 'classification', id: 'key', seed: 1, split: { validation: 0.2 } };

function keysOf(t: tf.Tensor | undefined): number[] {
  return rows(t!).map((r) => r[0]!);
}

describe('loadTable: CSV', () => {
  it('reads quoted fields, sorts classes and one-hot encodes labels', async () => {
    const file = write(
      'quoted.csv',
      [
        'id,"width, cm",height,note,species',
        '1,"1.5",2,"says ""hi""",setosa',
        '2,2.5,"3","two\nlines",versicolor',
        '3,0.5,1,,"setosa"',
        '4,4,5,"a, b",virginica',
        '5,3,3,plain,versicolor',
        '',
      ].join('\r\n'),
    );
    const data = await loadTable(file, { features: ['width, cm', 'height'], label: 'species', task: 'classification', id: 'id', seed: 0, split: { validation: 0 } });
    expect(data.info.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(data.info.numClasses).toBe(3);
    expect(data.info.inputShape).toEqual([2]);
    expect(data.info.counts).toEqual({ train: 5 });
    expect(data.validation).toBeUndefined();
    const split = data.train as { xs: tf.Tensor; ys: tf.Tensor };
    expect(split.xs.dtype).toBe('float32');
    expect(rows(split.xs)).toEqual([
      [1.5, 2],
      [2.5, 3],
      [0.5, 1],
      [4, 5],
      [3, 3],
    ]);
    expect(rows(split.ys)).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
    ]);
  });

  it("takes every column but the label and the id for 'all-but-label'", async () => {
    const file = write('all.csv', 'id,b,a,y\n1,1,2,0\n2,3,4,1\n3,5,6,1\n');
    const data = await loadTable(file, { features: 'all-but-label', label: 'y', task: 'regression', id: 'id', seed: 0, split: { validation: 0 } });
    expect(data.info.features).toEqual(['b', 'a']);
    expect(rows((data.train as { ys: tf.Tensor }).ys)).toEqual([[0], [1], [1]]);
  });

  it('sorts numeric class names numerically', async () => {
    const file = write('numeric-classes.csv', 'x,y\n1,10\n2,2\n3,1\n4,2\n');
    const data = await loadTable(file, { features: ['x'], label: 'y', task: 'classification', seed: 0, split: { validation: 0 } });
    expect(data.info.classes).toEqual(['1', '2', '10']);
  });

  it('names the missing column and the columns present', async () => {
    const file = write('missing-col.csv', 'a,b,label\n1,2,x\n');
    const err = await loadTable(file, { features: ['a', 'c'], label: 'label', task: 'classification', seed: 0, split: { validation: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as DataError).code).toBe('INVALID_INPUT');
    expect((err as DataError).column).toBe('c');
    expect((err as Error).message).toBe('missing-col.csv: feature column "c" is missing; columns present: "a", "b", "label"');
    await expect(loadTable(file, { features: ['a'], label: 'species', task: 'classification', seed: 0, split: { validation: 0 } })).rejects.toThrow(
      'label column "species" is missing; columns present: "a", "b", "label"',
    );
  });

  it('names the row, column and value of a non-numeric feature', async () => {
    const file = write('bad-value.csv', 'a,b,label\n1,2,x\n3,abc,y\n');
    const err = (await loadTable(file, { features: ['a', 'b'], label: 'label', task: 'classification', seed: 0, split: { validation: 0 } }).catch((e: unknown) => e)) as DataError;
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toBe('bad-value.csv: row 2, column "b": "abc" is not a number');
    expect([err.row, err.column, err.value]).toEqual([2, 'b', 'abc']);
  });

  it('rejects a regression label that is not a number, and ragged rows', async () => {
    const file = write('bad-label.csv', 'a,y\n1,2.5\n2,high\n');
    await expect(loadTable(file, { features: ['a'], label: 'y', task: 'regression', seed: 0, split: { validation: 0 } })).rejects.toThrow('row 2, column "y": "high" is not a number');
    const ragged = write('ragged.csv', 'a,y\n1,2\n3\n');
    await expect(loadTable(ragged, { features: ['a'], label: 'y', task: 'regression', seed: 0, split: { validation: 0 } })).rejects.toThrow('row 2 has 1 fields but the header has 2');
  });

  it('fails on a missing feature value unless told to impute the train mean', async () => {
    const lines = ['id,a,b,label'];
    for (let i = 0; i < 40; i++) lines.push(`${i},${i},${i === 7 ? '' : i * 2},${i % 2 ? 'p' : 'q'}`);
    const file = write('missing-value.csv', lines.join('\n'));
    const base: TableOptions = { features: ['a', 'b'], label: 'label', task: 'classification', id: 'id', seed: 3, split: { validation: 0.25 } };
    await expect(loadTable(file, base)).rejects.toThrow(/row 8, column "b": the value is missing/);

    const data = await loadTable(file, { ...base, missing: 'impute-mean' });
    const train = rows((data.train as { xs: tf.Tensor }).xs).concat(rows((data.validation as { xs: tf.Tensor }).xs));
    const trainRows = rows((data.train as { xs: tf.Tensor }).xs);
    const trainB = trainRows.filter((r) => r[0] !== 7).map((r) => r[1]!);
    const mean = trainB.reduce((s, v) => s + v, 0) / trainB.length;
    expect(data.info.normalization.fill![1]).toBeCloseTo(mean, 10);
    const row7 = train.find((r) => r[0] === 7)!;
    expect(row7[1]).toBeCloseTo(mean, 4);
  });

  it('refuses a missing label and duplicate ids', async () => {
    const file = write('no-label.csv', 'id,a,label\n1,1,x\n2,2,\n');
    await expect(loadTable(file, { features: ['a'], label: 'label', task: 'classification', id: 'id', seed: 0, split: { validation: 0 } })).rejects.toThrow(
      'row 2, column "label": the label is missing',
    );
    const dup = write('dup.csv', 'id,a,label\n1,1,x\n1,2,y\n');
    await expect(loadTable(dup, { features: ['a'], label: 'label', task: 'classification', id: 'id', seed: 0, split: { validation: 0 } })).rejects.toThrow(
      'row 2: id "1" is also the id of row 1',
    );
  });

  it('reports a missing file as not found', async () => {
    await expect(loadTable(path.join(dir, 'nope.csv'), keyedOptions)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('loadTable: JSONL', () => {
  it('reads objects, with absent keys as missing values and booleans as 0/1', async () => {
    const file = write(
      'data.jsonl',
      ['{"id":"a","x":1,"flag":true,"y":0.5}', '', '{"id":"b","x":"2","flag":false,"y":1.5}', '{"id":"c","flag":true,"y":2.5,"x":3}'].join('\n') + '\n',
    );
    const data = await loadTable(file, { features: ['x', 'flag'], label: 'y', task: 'regression', id: 'id', seed: 0, split: { validation: 0 } });
    expect(data.info.task).toBe('regression');
    expect(data.info.numClasses).toBeUndefined();
    expect(rows((data.train as { xs: tf.Tensor }).xs)).toEqual([
      [1, 1],
      [2, 0],
      [3, 1],
    ]);
    expect(rows((data.train as { ys: tf.Tensor }).ys)).toEqual([[0.5], [1.5], [2.5]]);

    const gap = write('gap.jsonl', '{"x":1,"y":1}\n\n{"y":2}\n');
    await expect(loadTable(gap, { features: ['x'], label: 'y', task: 'regression', seed: 0, split: { validation: 0 } })).rejects.toThrow('gap.jsonl: line 3, column "x": the value is missing');
    const bad = write('bad.jsonl', '{"x":1,"y":1}\n{"x":[1],"y":2}\n{"x":1\n');
    await expect(loadTable(bad, { features: ['x'], label: 'y', task: 'regression', seed: 0, split: { validation: 0 } })).rejects.toThrow('line 3 is not valid JSON');
    const arr = write('arr.jsonl', '{"x":1,"y":1}\n{"x":[1],"y":2}\n');
    await expect(loadTable(arr, { features: ['x'], label: 'y', task: 'regression', seed: 0, split: { validation: 0 } })).rejects.toThrow('line 2, column "x": [1] is not a number');
  });
});

describe('loadTable: subsets and splits', () => {
  it('keeps the same 10% subset across reruns and when rows are appended', async () => {
    const small = write('subset-a.csv', keyed(2000));
    const big = write('subset-b.csv', keyed(3000));
    const opts: TableOptions = { ...keyedOptions, subset: 0.1, split: { validation: 0.2 } };
    const a1 = await loadTable(small, opts);
    const a2 = await loadTable(small, opts);
    const b = await loadTable(big, opts);
    const all = (d: typeof a1) => [...keysOf((d.train as { xs: tf.Tensor }).xs), ...keysOf((d.validation as { xs: tf.Tensor }).xs)].sort((x, y) => x - y);
    expect(all(a1)).toEqual(all(a2));
    const chosen = all(a1);
    expect(chosen.length).toBeGreaterThan(150);
    expect(chosen.length).toBeLessThan(250);
    expect(chosen).toEqual(
      Array.from({ length: 2000 }, (_, i) => i).filter((i) => inSubset(String(i), 0.1)),
    );
    expect(all(b).filter((k) => k < 2000)).toEqual(chosen);
    expect(a1.info.totalRecords).toBe(2000);
    expect(a1.info.counts.train + a1.info.counts.validation!).toBe(chosen.length);
  });

  it('keeps each record in its split when rows are appended; the seed changes the split', async () => {
    const small = write('split-a.csv', keyed(1000));
    const big = write('split-b.csv', keyed(1000) + keyed(500, 1000).split('\n').slice(1).join('\n'));
    const opts: TableOptions = { ...keyedOptions, split: { validation: 0.2, test: 0.1 } };
    const a = await loadTable(small, opts);
    const b = await loadTable(big, opts);
    for (const name of ['train', 'validation', 'test'] as const) {
      const ka = keysOf((a[name] as { xs: tf.Tensor }).xs);
      const kb = keysOf((b[name] as { xs: tf.Tensor }).xs).filter((k) => k < 1000);
      expect(kb).toEqual(ka);
      for (const k of ka) expect(splitOf(String(k), 1, opts.split)).toBe(name);
    }
    expect(a.info.counts.validation).toBeGreaterThan(150);
    expect(a.info.counts.validation).toBeLessThan(250);
    expect(a.info.counts.test).toBeGreaterThan(70);
    expect(a.info.counts.test).toBeLessThan(130);

    const other = await loadTable(small, { ...opts, seed: 2 });
    expect(keysOf((other.validation as { xs: tf.Tensor }).xs)).not.toEqual(keysOf((a.validation as { xs: tf.Tensor }).xs));
  });

  it('uses the row index as the id by default', async () => {
    const file = write('noid.csv', keyed(300));
    const data = await loadTable(file, { ...keyedOptions, id: undefined, split: { validation: 0.3 } });
    for (const k of keysOf((data.validation as { xs: tf.Tensor }).xs)) expect(splitOf(String(k), 1, { validation: 0.3 })).toBe('validation');
  });

  it('fails with the counts when a split asked for comes out empty', async () => {
    const file = write('tiny.csv', keyed(3));
    await expect(loadTable(file, { ...keyedOptions, split: { validation: 0.01 } })).rejects.toThrow(/the validation split is empty: 3 records, validation fraction 0.01/);
    await expect(loadTable(file, { ...keyedOptions, split: { validation: 0.6, test: 0.5 } })).rejects.toThrow(ValidationError);
    await expect(loadTable(file, { ...keyedOptions, subset: 0 })).rejects.toThrow('subset must be a fraction in (0, 1]');
  });
});

describe('loadTable: normalisation', () => {
  it('standardises with statistics from the train split only', async () => {
    const lines = ['id,a,b,y'];
    for (let i = 0; i < 500; i++) lines.push(`${i},${i},${(i % 10) * 3 + 100},${i % 2}`);
    const file = write('norm.csv', lines.join('\n'));
    const opts: TableOptions = { features: ['a', 'b'], label: 'y', task: 'classification', id: 'id', seed: 5, split: { validation: 0.3 } };
    const raw = await loadTable(file, opts);
    const std = await loadTable(file, { ...opts, normalize: 'standard' });
    const rawTrain = rows((raw.train as { xs: tf.Tensor }).xs);
    const rawVal = rows((raw.validation as { xs: tf.Tensor }).xs);
    const mean = [0, 1].map((j) => rawTrain.reduce((s, r) => s + r[j]!, 0) / rawTrain.length);
    const sd = [0, 1].map((j) => Math.sqrt(rawTrain.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / rawTrain.length));
    const allMean = [...rawTrain, ...rawVal].reduce((s, r) => s + r[0]!, 0) / (rawTrain.length + rawVal.length);
    expect(std.info.normalization.method).toBe('standard');
    expect(std.info.normalization.offset[0]).toBeCloseTo(mean[0]!, 8);
    expect(std.info.normalization.offset[0]).not.toBeCloseTo(allMean, 8);
    expect(std.info.normalization.offset[1]).toBeCloseTo(mean[1]!, 8);
    expect(std.info.normalization.scale[0]).toBeCloseTo(sd[0]!, 8);
    expect(std.info.normalization.scale[1]).toBeCloseTo(sd[1]!, 8);
    const stdTrain = rows((std.train as { xs: tf.Tensor }).xs);
    const trainMean = stdTrain.reduce((s, r) => s + r[0]!, 0) / stdTrain.length;
    expect(trainMean).toBeCloseTo(0, 4);
    const stdVal = rows((std.validation as { xs: tf.Tensor }).xs);
    stdVal.forEach((r, i) => {
      expect(r[0]).toBeCloseTo((rawVal[i]![0]! - mean[0]!) / sd[0]!, 4);
      expect(r[1]).toBeCloseTo((rawVal[i]![1]! - mean[1]!) / sd[1]!, 4);
    });
  });

  it('scales min-max from the train split, and a constant column gets scale 1', async () => {
    const lines = ['id,a,c,y'];
    for (let i = 0; i < 200; i++) lines.push(`${i},${i},7,${i % 2}`);
    const file = write('minmax.csv', lines.join('\n'));
    const data = await loadTable(file, { features: ['a', 'c'], label: 'y', task: 'classification', id: 'id', seed: 9, split: { validation: 0.2 }, normalize: 'minmax' });
    const n = data.info.normalization;
    const train = rows((data.train as { xs: tf.Tensor }).xs);
    expect(Math.min(...train.map((r) => r[0]!))).toBeCloseTo(0, 6);
    expect(Math.max(...train.map((r) => r[0]!))).toBeCloseTo(1, 6);
    expect([n.offset[1], n.scale[1]]).toEqual([7, 1]);
    expect(train.every((r) => r[1] === 0)).toBe(true);
  });
});
