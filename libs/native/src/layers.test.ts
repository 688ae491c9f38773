import { beforeAll, expect, it } from 'vitest';
import { loadAddon, type NativeSession } from './addon.ts';
import { compilePlan } from './plan.ts';
import { pushWeights } from './state.ts';
import { describeNative, f32, maxAbs, maxAbsDiff, seeded, tf, tfl, useCpu } from './test-support.ts';

/**
 * Each layer's forward output and parameter gradients on the native core against tfjs's cpu
 * backend (tf.variableGrads of the same loss), and the gradients against central finite
 * differences of the native loss along a random direction. Tolerances: forward and
 * gradients 1e-5 relative to the largest value (float32 sums in another order), finite
 * differences 2% (float32 loss differences).
 */

type LossName = 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy' | 'meanSquaredError';

interface Case {
  name: string;
  build: () => tfl.LayersModel;
  inputShape: number[];
  loss: LossName;
  /** Integer inputs below this bound (Embedding). */
  ints?: number;
  /** Compare the forward pass in training mode (BatchNormalization). */
  training?: boolean;
  /** Skip the comparison with tfjs (dropout: its own random masks). */
  noReference?: boolean;
}

const ROWS = 6;

function targets(loss: LossName, width: number, rows: number): tf.Tensor {
  return tf.tidy(() => {
    if (loss === 'sparseCategoricalCrossentropy') return tf.tensor2d(Array.from({ length: rows }, (_, i) => [i % width]), [rows, 1]);
    if (loss === 'categoricalCrossentropy') return tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: rows }, (_, i) => (i * 7) % width), 'int32'), width), 'float32');
    if (loss === 'binaryCrossentropy') return tf.cast(tf.greater(tf.randomUniform([rows, width], 0, 1, 'float32', 5), 0.5), 'float32');
    return tf.randomUniform([rows, width], -1, 1, 'float32', 6);
  });
}

function lossFn(loss: LossName): (y: tf.Tensor, p: tf.Tensor) => tf.Tensor {
  const m = tfl.metrics as unknown as Record<string, (y: tf.Tensor, p: tf.Tensor) => tf.Tensor>;
  // tfjs-layers' sparse loss is its categorical one on one-hot targets (losses.ts).
  if (loss === 'sparseCategoricalCrossentropy') return (y, p) => m.categoricalCrossentropy!(tf.oneHot(tf.cast(tf.reshape(y, [-1]), 'int32'), p.shape[1]!), p);
  return m[loss]!;
}

const dense = (units: number, activation: string, extra: Record<string, unknown> = {}) => tfl.layers.dense({ units, activation: activation as 'relu', ...extra });
const seq = (layers: tfl.layers.Layer[]) => tfl.sequential({ layers });

const CASES: Case[] = [
  { name: 'Dense relu → Dense softmax, categorical cross-entropy', inputShape: [5], loss: 'categoricalCrossentropy', build: () => seq([dense(7, 'relu', { inputShape: [5] }), dense(4, 'softmax')]) },
  { name: 'Dense sigmoid/tanh/elu/linear, sparse cross-entropy', inputShape: [5], loss: 'sparseCategoricalCrossentropy', build: () => seq([dense(6, 'sigmoid', { inputShape: [5] }), dense(6, 'tanh'), dense(6, 'elu'), dense(6, 'linear'), dense(3, 'softmax')]) },
  { name: 'Dense without bias, binary cross-entropy', inputShape: [4], loss: 'binaryCrossentropy', build: () => seq([dense(5, 'relu', { inputShape: [4], useBias: false }), dense(2, 'sigmoid')]) },
  { name: 'Dense, mean squared error on a tanh output', inputShape: [4], loss: 'meanSquaredError', build: () => seq([dense(5, 'elu', { inputShape: [4] }), dense(3, 'tanh')]) },
  { name: 'softmax inside the network (not fused)', inputShape: [4], loss: 'meanSquaredError', build: () => seq([dense(5, 'softmax', { inputShape: [4] }), dense(2, 'linear')]) },
  {
    name: 'Conv2D valid → MaxPooling2D → Flatten → Dense',
    inputShape: [7, 7, 2],
    loss: 'categoricalCrossentropy',
    build: () => seq([tfl.layers.conv2d({ inputShape: [7, 7, 2], filters: 3, kernelSize: 3, activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2 }), tfl.layers.flatten(), dense(4, 'softmax')]),
  },
  {
    name: 'Conv2D same, stride 2, 2x3 kernel → AveragePooling2D → GlobalAveragePooling2D',
    inputShape: [9, 8, 3],
    loss: 'meanSquaredError',
    build: () =>
      seq([
        tfl.layers.conv2d({ inputShape: [9, 8, 3], filters: 4, kernelSize: [2, 3], strides: 2, padding: 'same', activation: 'tanh' }),
        tfl.layers.averagePooling2d({ poolSize: 2, strides: 1 }),
        tfl.layers.globalAveragePooling2d({}),
        dense(2, 'linear'),
      ]),
  },
  {
    name: 'MaxPooling2D and AveragePooling2D with same padding',
    inputShape: [5, 5, 2],
    loss: 'meanSquaredError',
    build: () =>
      seq([
        tfl.layers.conv2d({ inputShape: [5, 5, 2], filters: 2, kernelSize: 1, activation: 'sigmoid' }),
        tfl.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
        tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
        tfl.layers.flatten(),
        dense(2, 'linear'),
      ]),
  },
  { name: 'Reshape and Activation layers', inputShape: [6], loss: 'categoricalCrossentropy', build: () => seq([dense(8, 'linear', { inputShape: [6] }), tfl.layers.reshape({ targetShape: [2, 4] }), tfl.layers.activation({ activation: 'elu' }), tfl.layers.flatten(), dense(3, 'linear'), tfl.layers.activation({ activation: 'softmax' })]) },
  { name: 'BatchNormalization (training mode)', inputShape: [5], loss: 'meanSquaredError', training: true, build: () => seq([dense(6, 'linear', { inputShape: [5] }), tfl.layers.batchNormalization({}), tfl.layers.activation({ activation: 'relu' }), dense(2, 'linear')]) },
  {
    name: 'BatchNormalization after Conv2D (training mode)',
    inputShape: [4, 4, 2],
    loss: 'meanSquaredError',
    training: true,
    build: () => seq([tfl.layers.conv2d({ inputShape: [4, 4, 2], filters: 3, kernelSize: 2 }), tfl.layers.batchNormalization({ momentum: 0.9 }), tfl.layers.flatten(), dense(2, 'linear')]),
  },
  { name: 'Embedding → Flatten → Dense', inputShape: [3], ints: 10, loss: 'sparseCategoricalCrossentropy', build: () => seq([tfl.layers.embedding({ inputDim: 10, outputDim: 4, inputLength: 3 }), tfl.layers.flatten(), dense(3, 'softmax')]) },
  {
    name: 'functional graph: Add and Concatenate, a tensor read twice',
    inputShape: [5],
    loss: 'categoricalCrossentropy',
    build: () => {
      const input = tfl.input({ shape: [5] });
      const a = dense(4, 'relu').apply(input) as tfl.SymbolicTensor;
      const b = dense(4, 'tanh').apply(input) as tfl.SymbolicTensor;
      const sum = tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor;
      const cat = tfl.layers.concatenate().apply([sum, a, input]) as tfl.SymbolicTensor;
      const out = dense(3, 'softmax').apply(cat) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    },
  },
  { name: 'Dropout (its own masks: checked by finite differences)', inputShape: [6], loss: 'meanSquaredError', noReference: true, build: () => seq([dense(8, 'tanh', { inputShape: [6] }), tfl.layers.dropout({ rate: 0.4 }), dense(2, 'linear')]) },
];

function features(c: Case): tf.Tensor {
  return c.ints ? tf.cast(tf.randomUniform([ROWS, ...c.inputShape], 0, c.ints, 'int32', 3), 'float32') : tf.randomUniform([ROWS, ...c.inputShape], -1, 1, 'float32', 3);
}

describeNative('layers: native forward and gradients against tfjs cpu and finite differences', () => {
  beforeAll(useCpu);

  for (const c of CASES) {
    it(c.name, () => {
      const model = seeded(17, c.build);
      const out = model.outputs[0]!.shape[1] as number;
      const xs = features(c);
      const ys = targets(c.loss, out, ROWS);
      const labelSize = c.loss === 'sparseCategoricalCrossentropy' ? 1 : out;
      const { plan, trainable } = compilePlan(model, { loss: c.loss, optimizer: 'sgd', labelSize, maxBatch: ROWS });
      const session = new (loadAddon().Session)(plan, 2);
      pushWeights(session, model);
      const x = f32(xs);
      const y = f32(ys);

      // Native gradients first: tfjs's training-mode forward moves BatchNormalization's moving statistics.
      const native = session.gradients(x, y, ROWS);
      if (!c.noReference) {
        const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
        const ref = tf.variableGrads(() => tf.mean(lossFn(c.loss)(ys, model.apply(xs, { training: Boolean(c.training) }) as tf.Tensor)) as tf.Scalar, vars);
        expect(native.loss).toBeCloseTo(ref.value.dataSync()[0]!, 5);
        trainable.forEach((p, k) => {
          const want = ref.grads[vars[k]!.name]!.dataSync();
          const got = native.grads[p]!;
          expect(maxAbsDiff(got, want), `gradient of ${model.weights[p]!.name}`).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(want)));
        });
        if (!c.training) {
          const want = (model.predict(xs) as tf.Tensor).dataSync();
          const got = session.predict(x, ROWS);
          expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5 * Math.max(1, maxAbs(want)));
        }
      }

      // Central differences of the native loss along a random direction over every trainable weight.
      const dir = trainable.map((p) => Float32Array.from(tf.randomUniform([native.grads[p]!.length], -1, 1, 'float32', 100 + p).dataSync()));
      const directional = trainable.reduce((s, p, k) => s + native.grads[p]!.reduce((a, g, i) => a + g * dir[k]![i]!, 0), 0);
      const base = trainable.map((p) => session.getParam(p));
      const lossAt = (h: number) => {
        trainable.forEach((p, k) => session.setParam(p, base[k]!.map((w, i) => w + h * dir[k]![i]!)));
        return session.gradients(x, y, ROWS).loss;
      };
      const h = 1e-3;
      const numeric = (lossAt(h) - lossAt(-h)) / (2 * h);
      trainable.forEach((p, k) => session.setParam(p, base[k]!));
      expect(Math.abs(numeric - directional), `finite differences ${numeric} vs gradient ${directional}`).toBeLessThanOrEqual(0.02 * Math.max(1e-2, Math.abs(directional)));
      session.release();
      tf.dispose([xs, ys]);
      model.dispose();
    });
  }

  it('Dropout: inference passes values through; training zeroes about `rate` of them and scales the rest by 1/(1-rate)', () => {
    const model = seeded(3, () => seq([tfl.layers.dropout({ inputShape: [2000], rate: 0.3 }), tfl.layers.reshape({ targetShape: [2000] })]));
    const { plan } = compilePlan(model, { loss: 'meanSquaredError', optimizer: 'sgd', labelSize: 2000, maxBatch: 1 });
    const session = new (loadAddon().Session)(plan, 1);
    const x = new Float32Array(2000).fill(1);
    expect([...session.predict(x, 1)].every((v) => v === 1)).toBe(true);
    const y = session.predict(x, 1, true);
    const zeros = y.filter((v) => v === 0).length;
    expect(y.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6)).toBe(true);
    expect(zeros / 2000).toBeGreaterThan(0.25);
    expect(zeros / 2000).toBeLessThan(0.35);
    session.release();
  });
});

export type { NativeSession };
