import { beforeAll, expect, it } from 'vitest';
import { loadAddon } from './addon.ts';
import { compilePlan } from './plan.ts';
import { pullOptimizer, pushOptimizer, pushWeights } from './state.ts';
import { describeNative, seeded, tf, tfl, useCpu } from './test-support.ts';

/**
 * The native update rules against tfjs's own optimizers: the same gradients applied over
 * several steps must give the same weights and the same optimizer state. The native code
 * repeats tfjs's float32 operations in order (each rounded to float32, no fused
 * multiply-add), so the results must agree to the last bit.
 */
const OPTIMIZERS: [string, () => tf.Optimizer][] = [
  ['sgd', () => tf.train.sgd(0.1)],
  ['momentum', () => tf.train.momentum(0.05, 0.9)],
  ['momentum with nesterov', () => tf.train.momentum(0.05, 0.8, true)],
  ['adam', () => tf.train.adam(0.01, 0.9, 0.999)],
  ['adam with other betas and epsilon', () => tf.train.adam(0.003, 0.8, 0.95, 1e-4)],
  ['rmsprop', () => tf.train.rmsprop(0.01)],
  ['rmsprop with momentum, centered', () => tf.train.rmsprop(0.01, 0.8, 0.5, 1e-6, true)],
];

function close(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) throw new Error(`${what}[${i}]: native ${a[i]} vs tfjs ${b[i]}`);
  }
}

describeNative('optimizers: native updates against tfjs over several steps', () => {
  beforeAll(useCpu);

  for (const [name, make] of OPTIMIZERS) {
    it(name, async () => {
      const model = seeded(5, () => tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] }));
      const optimizer = make();
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      const { plan, trainable } = compilePlan(model, { loss: 'categoricalCrossentropy', optimizer, labelSize: 2, maxBatch: 1 });
      const session = new (loadAddon().Session)(plan, 2);
      pushWeights(session, model);
      await pushOptimizer(session, optimizer, plan.optimizer, trainable);
      const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
      for (let step = 0; step < 4; step++) {
        const grads = vars.map((v, k) => tf.randomNormal(v.shape, 0, 1, 'float32', 10 * step + k));
        optimizer.applyGradients(Object.fromEntries(vars.map((v, k) => [v.name, grads[k]!])));
        session.applyGradients(model.weights.map((_, p) => (trainable.includes(p) ? Float32Array.from(grads[trainable.indexOf(p)]!.dataSync()) : null)));
        tf.dispose(grads);
        trainable.forEach((p, k) => close(session.getParam(p), vars[k]!.dataSync() as Float32Array, `step ${step + 1}: ${model.weights[p]!.name}`));
      }
      // The state, written back into a fresh tfjs optimizer, equals tfjs's own.
      const own = await optimizer.getWeights();
      const fresh = make();
      model.compile({ optimizer: fresh, loss: 'categoricalCrossentropy' });
      await pullOptimizer(session, fresh, plan.optimizer, model, trainable);
      const back = await fresh.getWeights();
      expect(back.length).toBe(own.length);
      for (let i = 0; i < own.length; i++) close(back[i]!.tensor.dataSync() as Float32Array, own[i]!.tensor.dataSync() as Float32Array, `state ${own[i]!.name}`);
      for (const key of ['accBeta1', 'accBeta2']) {
        const a = (fresh as unknown as Record<string, tf.Variable | undefined>)[key];
        const b = (optimizer as unknown as Record<string, tf.Variable | undefined>)[key];
        if (b) expect(a!.dataSync()[0]).toBe(b.dataSync()[0]);
      }
      session.release();
      model.dispose();
    });
  }
});
