import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tf } from '../index.ts';
import { loadDefinition } from '../load-definition.ts';
import { runTraining } from '../run-training.ts';
import { CHAINED_OPS } from './chained-ops.ts';

const here = dirname(fileURLToPath(import.meta.url));

describe('tf from @cairn/engine', () => {
  it('has chained ops on the tensors it creates', () => {
    const x = tf.tensor1d([1, 2, 3]);
    expect(Array.from(x.sub(1).square().dataSync())).toEqual([0, 1, 4]);
    expect(x.as2D(3, 1).shape).toEqual([3, 1]);
    expect(x.toInt().dtype).toBe('int32');
    expect(Array.from(x.concat(tf.tensor1d([4])).dataSync())).toEqual([1, 2, 3, 4]);
    expect(Array.from(x.where(tf.tensor1d([1, 0, 1], 'bool'), tf.zerosLike(x)).dataSync())).toEqual([1, 0, 3]);
  });

  it("registers every chained op tfjs-core ships (a tfjs upgrade that adds one fails here)", () => {
    const dir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json')), 'dist/public/chained_ops');
    const shipped = readdirSync(dir).filter((f) => f.endsWith('.js') && !f.includes('test') && !f.startsWith('register_all'));
    expect(CHAINED_OPS).toHaveLength(shipped.length);
    const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
    for (const name of CHAINED_OPS) expect(typeof proto[name], name).toBe('function');
  });

  it('has layers, the optimizers and tf.data beside the ops', () => {
    expect(typeof tf.sequential).toBe('function');
    expect(typeof tf.layers.dense).toBe('function');
    expect(typeof tf.train.adam).toBe('function');
    expect(typeof tf.data.array).toBe('function');
  });

  it('trains a definition that imports only tf from @cairn/engine', async () => {
    const { definition } = await loadDefinition(join(here, '../fixtures/tf-only/train.ts'));
    const outcome = await runTraining({ definition, dataDir: here, reporter: { metrics: () => {}, artifact: () => {} }, backend: 'cpu' });
    expect(outcome.result.reason).toBeUndefined();
    expect(outcome.result.status).toBe('finished');
    expect(outcome.result.epochs).toBe(3);
    expect(outcome.result.metrics.val_acc).toBeGreaterThan(0);
  });
});
