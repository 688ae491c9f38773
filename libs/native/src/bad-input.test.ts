import { ValidationError } from '@cairn/schema';
import { beforeAll, expect, it } from 'vitest';
import * as tfd from '@tensorflow/tfjs-data';
import { loadAddon, type NativePlan } from './addon.ts';
import { NativeCpuTrainer } from './native-cpu-trainer.ts';
import { compilePlan } from './plan.ts';
import { nativeCpuProvider } from './provider.ts';
import { describeNative, seeded, tf, tfl, useCpu } from './test-support.ts';
import type { TrainerInput, TrainingData } from '@cairn/engine';

/**
 * Bad input through the real addon: every mistake is a JS error with a message that says
 * what is wrong (the process would die on an abort or a segfault, failing the run).
 * And the probe: models native-cpu cannot run exactly are refused with the reason.
 */

const small = () => seeded(1, () => tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 4, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] }));
const planOf = (m = small()): NativePlan => compilePlan(m, { loss: 'categoricalCrossentropy', optimizer: 'adam', labelSize: 2, maxBatch: 4 }).plan;

function tensors(rows: number, bad?: { row: number; value: number }): { xs: tf.Tensor; ys: tf.Tensor } {
  const x = Float32Array.from({ length: rows * 3 }, (_, i) => Math.sin(i));
  if (bad) x[bad.row * 3 + 1] = bad.value;
  return { xs: tf.tensor2d(x, [rows, 3]), ys: tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: rows }, (_, i) => i % 2), 'int32'), 2), 'float32') };
}

function input(d: Partial<TrainingData>, model = small()): TrainerInput {
  return {
    model,
    compile: { optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
    data: { train: tensors(10), info: { inputShape: [3], counts: { train: 10 } }, ...d },
    epochs: 1,
    batchSize: 4,
    seed: 1,
    objective: { metric: 'loss', direction: 'minimize' },
    policies: [],
    reporter: { metrics() {}, artifact() {} },
  };
}

describeNative('bad input: clear errors, never a crash', () => {
  beforeAll(useCpu);

  it('a malformed plan is refused by the addon', () => {
    const { Session } = loadAddon();
    const bad: [string, unknown, RegExp][] = [
      ['no nodes', {}, /'nodes' must be an array/],
      ['an unknown op', { ...planOf(), nodes: [{ op: 'lstm', inputs: [], shape: [3] }] }, /unknown op 'lstm'/],
      ['a forward reference', { ...planOf(), nodes: [{ op: 'input', inputs: [], shape: [3] }, { op: 'dense', inputs: [2], shape: [2], units: 2, kernel: 0 }] }, /reads a node that is not before it|output node out of range/],
      ['a parameter out of range', { ...planOf(), nodes: planOf().nodes.map((n, i) => (i === 1 ? { ...n, kernel: 99 } : n)) }, /parameter index out of range/],
      ['a negative dimension', { ...planOf(), nodes: [{ op: 'input', inputs: [], shape: [-3] }] }, /non-positive dimension/],
      ['an unknown loss', { ...planOf(), loss: 'hinge' }, /unknown loss 'hinge'/],
      ['a kernel of the wrong size', { ...planOf(), params: planOf().params.map((p, i) => (i === 0 ? { ...p, shape: [3, 5] } : p)) }, /dense kernel size/],
      ['units that do not match the shape', { ...planOf(), nodes: planOf().nodes.map((n, i) => (i === 1 ? { ...n, units: 5 } : n)) }, /dense shapes do not add up/],
      ['a dropout rate of 1', { ...planOf(), nodes: [...planOf().nodes.slice(0, 2), { op: 'dropout', inputs: [1], shape: [4], rate: 1 }, { ...planOf().nodes[2]!, inputs: [2] }] }, /dropout rate/],
      ['targets that do not fit the output', { ...planOf(), labelSize: 3 }, /labelSize does not fit/],
      [
        'a conv window past its input',
        {
          ...planOf(),
          nodes: [{ op: 'input', inputs: [], shape: [4, 4, 1] }, { op: 'conv2d', inputs: [0], shape: [9, 9, 2], kernel: 0, conv: { h: 4, w: 4, cin: 1, kh: 3, kw: 3, sh: 1, sw: 1, padTop: 0, padLeft: 0, oh: 9, ow: 9, cout: 2 } }, { op: 'reshape', inputs: [1], shape: [162] }, { op: 'dense', inputs: [2], shape: [2], units: 2, kernel: 1, act: 'softmax' }],
          params: [{ shape: [3, 3, 1, 2], trainable: true }, { shape: [162, 2], trainable: true }],
          output: 3,
        },
        /conv output larger than its input allows/,
      ],
      [
        'a buffer too large to allocate',
        {
          ...planOf(),
          maxBatch: 2_000_000_000,
          nodes: [{ op: 'input', inputs: [], shape: [2_000_000_000] }, { op: 'dense', inputs: [0], shape: [2], units: 2, kernel: 0, bias: 1, act: 'softmax' }],
          params: [{ shape: [2_000_000_000, 2], trainable: true }, { shape: [2], trainable: true }],
          output: 1,
        },
        /out of memory|cannot create std::vector larger than max_size|length/,
      ],
    ];
    for (const [what, plan, message] of bad) expect(() => new Session(plan as NativePlan, 1), what).toThrow(message);
    expect(() => new Session(planOf(), 0)).toThrow(/threads must be/);
  });

  it('wrong arrays, sizes, rows and indices are refused by the session', async () => {
    const s = new (loadAddon().Session)(planOf(), 2);
    expect(() => s.setParam(0, new Float32Array(5))).toThrow(/holds 12 values, got 5/);
    expect(() => s.setParam(7, new Float32Array(5))).toThrow(/out of range/);
    expect(() => s.setParam(0, new Int32Array(12) as unknown as Float32Array)).toThrow(/must be a Float32Array/);
    expect(() => s.setSplit(0, new Float32Array(9), new Float32Array(6), 4)).toThrow(/features hold 9 values, the model's input needs 4 x 3/);
    expect(() => s.setSplit(1, new Float32Array(12), new Float32Array(6), 4)).toThrow(/targets hold 6 values/);
    const x = new Float32Array(12);
    x[7] = Number.NaN;
    expect(() => s.setSplit(0, x, new Float32Array(8), 4)).toThrow(/train split: features of row 2 hold NaN/);
    x[7] = Number.POSITIVE_INFINITY;
    expect(() => s.setSplit(2, x, new Float32Array(8), 4)).toThrow(/test split: features of row 2 hold Infinity/);
    expect(() => s.evaluate(1, 4)).toThrow(/not loaded/);
    s.setSplit(0, new Float32Array(12), new Float32Array(8), 4);
    await expect(s.train(Int32Array.from([0, 1, 2, 9]), 0, 1, 4, 1, 0)).rejects.toThrow(/names row 9, outside the train split/);
    await expect(s.train(Int32Array.from([0, 1, 2]), 0, 1, 4, 1, 0)).rejects.toThrow(/order holds 3 rows/);
    await expect(s.train(Int32Array.from([0, 1, 2, 3]), 0, 1, 99, 1, 0)).rejects.toThrow(/batch size 99 is outside 1..4/);
    expect(() => s.train(new Float32Array(4) as unknown as Int32Array, 0, 1, 4, 1, 0)).toThrow(/train\(order: Int32Array/);
    expect(() => s.predict(new Float32Array(5), 2)).toThrow(/predict/);
    // While a call is in flight the session refuses others rather than race it.
    const running = s.train(Int32Array.from([0, 1, 2, 3]), 0, 1, 4, 1, 0);
    expect(() => s.setParam(1, new Float32Array(4))).toThrow(/busy/);
    await running;
    s.release();
    expect(() => s.getParam(0)).toThrow(/released/);
  });

  it('sparse labels and embedding indices out of range are refused with the row', () => {
    const m = seeded(2, () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 5, outputDim: 2, inputLength: 2 }), tfl.layers.flatten(), tfl.layers.dense({ units: 3, activation: 'softmax' })] }));
    const { plan } = compilePlan(m, { loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd', labelSize: 1, maxBatch: 4 });
    const s = new (loadAddon().Session)(plan, 1);
    expect(() => s.setSplit(0, Float32Array.from([0, 1, 2, 3, 4, 0]), Float32Array.from([0, 1, 3]), 3)).toThrow(/row 2 has label 3.*not a class index below 3/);
    expect(() => s.setSplit(0, Float32Array.from([0, 1, 2, 5, 4, 0]), Float32Array.from([0, 1, 2]), 3)).toThrow(/row 1 holds index 5, outside the Embedding's vocabulary of 5/);
    expect(() => s.setSplit(0, Float32Array.from([0, 1.5, 2, 3, 4, 0]), Float32Array.from([0, 1, 2]), 3)).toThrow(/row 0 feeds an Embedding/);
    s.release();
  });

  it('the trainer turns bad data into a ValidationError naming the split and row', async () => {
    const trainer = new NativeCpuTrainer();
    await expect(trainer.train(input({ validation: tensors(6, { row: 4, value: Number.NaN }) }))).rejects.toThrow(/validation split: features of row 4 hold NaN/);
    await expect(trainer.train(input({ validation: tensors(6, { row: 4, value: Number.NaN }) }))).rejects.toBeInstanceOf(ValidationError);
    const wrong = { xs: tf.zeros([5, 4]), ys: tf.zeros([5, 2]) };
    await expect(trainer.train(input({ train: wrong }))).rejects.toThrow(/features have shape \[5,4\], the model takes \[rows, 3\]/);
    const short = { xs: tf.zeros([5, 3]), ys: tf.zeros([4, 2]) };
    await expect(trainer.train(input({ test: short }))).rejects.toThrow(/test split has 5 feature rows but 4 target rows/);
  });

  it('the probe refuses what native-cpu cannot run exactly, with the reason', () => {
    const data = (): TrainingData => ({ train: tensors(8), info: { inputShape: [3], counts: { train: 8 } } });
    const probe = (model: tfl.LayersModel, compile: Partial<TrainerInput['compile']> = {}, d: TrainingData = data()) =>
      nativeCpuProvider.supports({ model, compile: { optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], ...compile }, data: d, batchSize: 4 });
    expect(probe(small())).toEqual({ ok: true });
    const lstm = tfl.sequential({ layers: [tfl.layers.reshape({ inputShape: [3], targetShape: [3, 1] }), tfl.layers.lstm({ units: 2, recurrentInitializer: 'glorotUniform' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] });
    expect(probe(lstm)).toEqual({ ok: false, reason: 'layer LSTM not supported by native-cpu' });
    const reg = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax', kernelRegularizer: tfl.regularizers.l2() })] });
    expect(probe(reg)).toMatchObject({ ok: false, reason: expect.stringMatching(/kernelRegularizer on layer .* not supported by native-cpu/) });
    const linearOut = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] });
    expect(probe(linearOut)).toMatchObject({ ok: false, reason: expect.stringMatching(/categoricalCrossentropy on an output without softmax/) });
    expect(probe(small(), { optimizer: 'adamax' })).toEqual({ ok: false, reason: 'optimizer adamax not supported by native-cpu' });
    expect(probe(small(), { optimizer: tf.train.adagrad(0.1) })).toEqual({ ok: false, reason: 'optimizer Adagrad not supported by native-cpu' });
    expect(probe(small(), { metrics: ['precision'] })).toEqual({ ok: false, reason: 'metric precision not supported by native-cpu' });
    expect(probe(small(), { loss: 'hinge' })).toEqual({ ok: false, reason: 'loss hinge not supported by native-cpu' });
    const prelu = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'selu' as 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] });
    expect(probe(prelu)).toMatchObject({ ok: false, reason: expect.stringMatching(/activation selu .* not supported by native-cpu/) });
    const dataset = { ...data(), train: tfd.array([{ xs: tf.zeros([3]), ys: tf.zeros([2]) }]).batch(4) } as unknown as TrainingData;
    expect(probe(small(), {}, dataset)).toMatchObject({ ok: false, reason: expect.stringMatching(/tf.data pipelines are not supported by native-cpu/) });
    const i = tfl.input({ shape: [3] });
    const twoOut = tfl.model({ inputs: i, outputs: [tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(i) as tfl.SymbolicTensor, tfl.layers.dense({ units: 1 }).apply(i) as tfl.SymbolicTensor] });
    expect(probe(twoOut)).toEqual({ ok: false, reason: 'a model with 2 outputs is not supported by native-cpu' });
    expect(nativeCpuProvider.available()).toMatchObject({ ok: true, detail: expect.stringMatching(/kernels, \d+ thread/) });
  });
});
