import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfd from '@tensorflow/tfjs-data';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchExamples, sampleSplit, splitToDataset, type Batch } from '../index.ts';
import type { Dataset } from '@tensorflow/tfjs-data';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Row i of xs is [i, -i]; ys is one-hot of i % 3. */
function split(n: number): { xs: tf.Tensor; ys: tf.Tensor } {
  const xs = tf.tensor2d(Array.from({ length: n }, (_, i) => [i, -i]));
  const ys = tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'), 3), 'float32');
  return { xs, ys };
}

/** The first feature of every example, epoch by epoch, and the batch sizes. */
async function epochs(ds: Dataset<Batch>, count: number): Promise<{ orders: number[][]; sizes: number[] }> {
  const orders: number[][] = [];
  const sizes: number[] = [];
  for (let e = 0; e < count; e++) {
    const order: number[] = [];
    await ds.forEachAsync((b) => {
      const xs = b.xs.arraySync() as number[][];
      const ys = b.ys.arraySync() as number[][];
      xs.forEach((r, i) => {
        expect(r[1]).toBe(-r[0]!);
        expect(ys[i]![r[0]! % 3]).toBe(1);
        order.push(r[0]!);
      });
      if (e === 0) sizes.push(xs.length);
      tf.dispose([b.xs, b.ys]);
    });
    orders.push(order);
  }
  return { orders, sizes };
}

describe('splitToDataset', () => {
  it('shuffles with the seed: same seed same orders, every row once per epoch', async () => {
    const s = split(50);
    const a = await epochs(splitToDataset(s, { batchSize: 16, seed: 7 }), 2);
    const b = await epochs(splitToDataset(s, { batchSize: 16, seed: 7 }), 2);
    const c = await epochs(splitToDataset(s, { batchSize: 16, seed: 8 }), 1);
    expect(a.orders).toEqual(b.orders);
    expect(a.sizes).toEqual([16, 16, 16, 2]);
    for (const o of a.orders) expect([...o].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a.orders[0]).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a.orders[1]).not.toEqual(a.orders[0]);
    expect(c.orders[0]).not.toEqual(a.orders[0]);
  });

  it('keeps row order without shuffle, passes a Dataset through, and does not leak tensors', async () => {
    const s = split(10);
    const before = tf.memory().numTensors;
    const plain = await epochs(splitToDataset(s, { batchSize: 4, seed: 0, shuffle: false }), 1);
    expect(plain.orders[0]).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(tf.memory().numTensors).toBe(before);
    const ds = splitToDataset(s, { batchSize: 4, seed: 0 });
    expect(splitToDataset(ds, { batchSize: 99, seed: 1 })).toBe(ds);
    const sample = await sampleSplit(ds, 3);
    expect(sample.xs.shape).toEqual([3, 2]);
    const direct = await sampleSplit(s, 3);
    expect(direct.xs.arraySync()).toEqual([
      [0, -0],
      [1, -1],
      [2, -2],
    ]);
  });
});

describe('batchExamples', () => {
  it('shuffles and batches a Dataset of single examples with the seed', async () => {
    const examples = () =>
      tfd.array(Array.from({ length: 20 }, (_, i) => i)).map((i) => {
        const v = i as unknown as number;
        return { xs: tf.tensor1d([v, -v]), ys: tf.cast(tf.reshape(tf.oneHot(tf.tensor1d([v % 3], 'int32'), 3), [3]), 'float32') };
      }) as unknown as Dataset<Batch>;
    const a = await epochs(batchExamples(examples(), { batchSize: 8, seed: 3, bufferSize: 20 }), 1);
    const b = await epochs(batchExamples(examples(), { batchSize: 8, seed: 3, bufferSize: 20 }), 1);
    expect(a.orders).toEqual(b.orders);
    expect(a.sizes).toEqual([8, 8, 4]);
    expect([...a.orders[0]!].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(a.orders[0]).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
