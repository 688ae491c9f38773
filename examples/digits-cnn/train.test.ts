import { fileURLToPath } from 'node:url';
import { tf } from '@cairn/engine';
import { expect, it } from 'vitest';
import definition from './train.ts';

const dir = fileURLToPath(new URL('./data', import.meta.url));

it("loads the digit PNGs and trains the CNN on the ci tier's subset", async () => {
  await tf.setBackend('cpu');
  const params = definition.params.parse({});
  const full = await definition.data({ dir, tier: 'nightly', subset: 1, seed: 0, params });
  expect(full.info.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  expect(full.info.inputShape).toEqual([8, 8, 1]);
  expect(full.info.counts.train + full.info.counts.validation!).toBe(1797);
  tf.dispose(Object.values(full).flatMap((s) => ('xs' in s && s.xs instanceof tf.Tensor ? [s.xs, s.ys as tf.Tensor] : [])));

  const ci = definition.tiers!.ci!;
  const data = await definition.data({ dir, tier: 'ci', subset: ci.subset!, seed: 0, params });
  expect(data.info.counts.train + data.info.counts.validation!).toBeLessThan(450);
  const model = definition.model(params, data.info);
  const spec = definition.compile(params);
  model.compile({ optimizer: spec.optimizer, loss: spec.loss, metrics: spec.metrics! });
  const train = data.train as { xs: tf.Tensor; ys: tf.Tensor };
  const validation = data.validation as { xs: tf.Tensor; ys: tf.Tensor };
  const history = await model.fit(train.xs, train.ys, { epochs: ci.epochs!, batchSize: params.batchSize, validationData: [validation.xs, validation.ys], verbose: 0 });
  expect(Object.keys(history.history)).toContain(definition.objective.metric);
  const loss = history.history.loss as number[];
  expect(loss.at(-1)).toBeLessThan(loss[0]!);
});
