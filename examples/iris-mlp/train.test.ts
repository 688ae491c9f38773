import { fileURLToPath } from 'node:url';
import { tf } from '@cairn/engine';
import { expect, it } from 'vitest';
import definition from './train.ts';

const dir = fileURLToPath(new URL('./data', import.meta.url));

it('loads iris.csv and trains the MLP to at least 0.85 validation accuracy', async () => {
  await tf.setBackend('cpu');
  const params = definition.params.parse({});
  const data = await definition.data({ dir, tier: 'nightly', subset: 1, seed: 1, params });
  expect(data.info.classes).toEqual(['setosa', 'versicolor', 'virginica']);
  expect(data.info.inputShape).toEqual([4]);
  expect(data.info.counts.train + data.info.counts.validation!).toBe(150);
  const model = definition.model(params, data.info);
  const spec = definition.compile(params);
  model.compile({ optimizer: spec.optimizer, loss: spec.loss, metrics: spec.metrics! });
  const train = data.train as { xs: tf.Tensor; ys: tf.Tensor };
  const validation = data.validation as { xs: tf.Tensor; ys: tf.Tensor };
  const history = await model.fit(train.xs, train.ys, { epochs: params.epochs, batchSize: params.batchSize, validationData: [validation.xs, validation.ys], verbose: 0 });
  // The objective's metric is one the fit reports.
  expect(Object.keys(history.history)).toContain(definition.objective.metric);
  expect((history.history.val_acc as number[]).at(-1)).toBeGreaterThanOrEqual(0.85);
});
