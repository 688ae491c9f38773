import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayersTrainer, Rng, type MetricPoint, type Reporter, type TrainerInput, type TrainingData, type TrainResult } from '@cairn/engine';
import { LocalBlobStore } from '@cairn/snapshot';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NativeCpuTrainer } from './native-cpu-trainer.ts';
import { describeNative, seeded, tf, tfl, useCpu } from './test-support.ts';

/**
 * Whole fits on NativeCpuTrainer against LayersTrainer (tfjs cpu) with the same seed, data
 * and initial weights: the same batches in the same order, so the curves track each other
 * and part only by float32 rounding (sums in another order). Measured here after 2–3
 * epochs: losses differ by about 1e-8. Tolerances: loss within 1e-4 (relative above 1),
 * accuracy within one example in a hundred (a near-tie may flip).
 */

const base = mkdtempSync(join(tmpdir(), 'cairn-native-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshStore = () => new LocalBlobStore(join(base, `blobs${n++}`));

class Recorder implements Reporter {
  points: MetricPoint[] = [];
  artifacts: string[] = [];
  metrics(points: MetricPoint[]) {
    this.points.push(...points);
  }
  artifact(a: { path: string }) {
    this.artifacts.push(a.path);
  }
  keys(): string[] {
    return [...new Set(this.points.map((p) => p.key))].sort();
  }
}

/** Three classes from a random linear teacher, with noise: learnable, not trivially. */
function teacher(rows: number, dims: number[], seed: number, sparse = false): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => {
    const rng = new Rng(seed);
    const width = dims.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: rows * width }, () => rng.next() * 2 - 1);
    const w = Array.from({ length: width * 3 }, (_, i) => Math.sin(i * 1.7 + 0.3));
    const labels = Array.from({ length: rows }, (_, r) => {
      const score = [0, 1, 2].map((c) => x.subarray(r * width, (r + 1) * width).reduce((s, v, j) => s + v * w[j * 3 + c]!, 0) + (rng.next() - 0.5));
      return score.indexOf(Math.max(...score));
    });
    const ys = sparse ? tf.tensor2d(labels, [rows, 1]) : tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32');
    return { xs: tf.tensor(x, [rows, ...dims]), ys };
  });
}

function data(dims: number[], sparse = false): TrainingData {
  return {
    train: teacher(480, dims, 1, sparse),
    validation: teacher(120, dims, 2, sparse),
    test: teacher(100, dims, 3, sparse),
    info: { inputShape: dims, numClasses: 3, counts: { train: 480, validation: 120, test: 100 } },
  };
}

const mlp = (dropout = 0) => () =>
  tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [12], units: 32, activation: 'relu' }),
      ...(dropout ? [tfl.layers.dropout({ rate: dropout })] : []),
      tfl.layers.dense({ units: 16, activation: 'tanh' }),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });

const cnn = () =>
  tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 6, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 8, kernelSize: 2, padding: 'same', activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });

function input(build: () => tfl.LayersModel, d: TrainingData, extra: Partial<TrainerInput> = {}): TrainerInput {
  return {
    model: seeded(42, build),
    compile: { optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
    data: d,
    epochs: 3,
    batchSize: 32,
    seed: 9,
    objective: { metric: 'val_acc', direction: 'maximize' },
    policies: [],
    reporter: new Recorder(),
    ...extra,
  };
}

function expectClose(a: TrainResult, b: TrainResult): void {
  if (process.env.SHOW_DIFF) console.log(Object.keys(b.metrics).map((k) => `${k} ${(a.metrics[k]! - b.metrics[k]!).toExponential(1)}`).join(", "));
  expect(Object.keys(a.metrics).sort()).toEqual(Object.keys(b.metrics).sort());
  for (const [key, value] of Object.entries(b.metrics)) {
    const got = a.metrics[key]!;
    if (key.endsWith('acc')) expect(Math.abs(got - value), `${key}: native ${got}, tfjs ${value}`).toBeLessThanOrEqual(0.01);
    else expect(Math.abs(got - value), `${key}: native ${got}, tfjs ${value}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(value)));
  }
}

describeNative('NativeCpuTrainer: whole fits', () => {
  beforeAll(useCpu);
  let mlpData: TrainingData;
  beforeAll(() => {
    mlpData = data([12]);
  });

  it('an MLP fit matches LayersTrainer with the same seed (metrics, steps, reported keys)', async () => {
    const tfIn = input(mlp(), mlpData, { batchMetricsEvery: 5 });
    const nativeIn = input(mlp(), mlpData, { batchMetricsEvery: 5 });
    const ref = await new LayersTrainer().train(tfIn);
    const got = await new NativeCpuTrainer().train(nativeIn);
    expect(got.status).toBe('finished');
    expect(got.steps).toBe(ref.steps);
    expect(got.epochs).toBe(3);
    expectClose(got, ref);
    expect(got.metrics.val_acc).toBeGreaterThan(0.6); // it learned
    expect((nativeIn.reporter as Recorder).keys()).toEqual((tfIn.reporter as Recorder).keys());
    // The trained weights are back in the tfjs model: its own evaluation agrees with the native one.
    const test = mlpData.test as { xs: tf.Tensor; ys: tf.Tensor };
    const [loss, acc] = (nativeIn.model.evaluate(test.xs, test.ys, { batchSize: 100 }) as tf.Scalar[]).map((s) => s.dataSync()[0]!);
    expect(loss).toBeCloseTo(got.metrics.test_loss!, 4);
    expect(acc).toBeCloseTo(got.metrics.test_acc!, 5);
  });

  it('with dropout the fit still follows LayersTrainer: the masks are tfjs\'s own, from the same seeded stream', async () => {
    const ref = await new LayersTrainer().train(input(mlp(0.3), mlpData));
    const got = await new NativeCpuTrainer().train(input(mlp(0.3), mlpData));
    expectClose(got, ref);
  });

  it('with dropout, a tfjs checkpoint resumes on native to LayersTrainer\'s uninterrupted result', async () => {
    const ref = await new LayersTrainer().train(input(mlp(0.3), mlpData));
    const store = freshStore();
    const first = await new LayersTrainer().train(input(mlp(0.3), mlpData, { epochs: 1, checkpoints: { store, everyEpochs: 1 } }));
    const onNative = await new NativeCpuTrainer().train(input(mlp(0.3), mlpData, { checkpoints: { store }, resumeFrom: first.lastCheckpoint! }));
    expectClose(onNative, ref);
  });

  it('a small CNN fit matches LayersTrainer with the same seed', async () => {
    const d = data([8, 8, 1]);
    const ref = await new LayersTrainer().train(input(cnn, d, { epochs: 2 }));
    const got = await new NativeCpuTrainer().train(input(cnn, d, { epochs: 2 }));
    expect(got.status).toBe('finished');
    expectClose(got, ref);
  });

  it('sparse labels, rmsprop, validation every N steps and onBatch as LayersTrainer', async () => {
    const d = data([12], true);
    const extra = (): Partial<TrainerInput> => ({ compile: { optimizer: tf.train.rmsprop(0.005), loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] }, validateEverySteps: 7, epochs: 2 });
    const refBatches: number[] = [];
    const gotBatches: number[] = [];
    const refIn = input(mlp(), d, { ...extra(), onBatch: (b) => refBatches.push(b.step) });
    const gotIn = input(mlp(), d, { ...extra(), onBatch: (b) => gotBatches.push(b.step) });
    const ref = await new LayersTrainer().train(refIn);
    const got = await new NativeCpuTrainer().train(gotIn);
    expectClose(got, ref);
    expect(gotBatches).toEqual(refBatches);
    const valSteps = (r: Recorder) => r.points.filter((p) => p.key === 'val_loss').map((p) => p.step);
    expect(valSteps(gotIn.reporter as Recorder)).toEqual(valSteps(refIn.reporter as Recorder));
  });

  it('the same seed twice gives identical metrics and weights, with dropout, at 1 and 2 threads', async () => {
    const runs = [];
    for (const threads of [2, 2, 1]) {
      const i = input(mlp(0.3), mlpData, { epochs: 2 });
      const r = await new NativeCpuTrainer({ threads }).train(i);
      runs.push({ metrics: r.metrics, weights: i.model.getWeights().map((w) => [...w.dataSync()]) });
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });

  it('resumes exactly from its own mid-run checkpoint (weights and Adam state round-trip)', async () => {
    const store = freshStore();
    const whole = await new NativeCpuTrainer().train(input(mlp(0.2), mlpData));
    const first = await new NativeCpuTrainer().train(input(mlp(0.2), mlpData, { epochs: 1, checkpoints: { store, everyEpochs: 1 } }));
    expect(first.lastCheckpoint?.epoch).toBe(1);
    const resumed = await new NativeCpuTrainer().train(input(mlp(0.2), mlpData, { checkpoints: { store }, resumeFrom: first.lastCheckpoint! }));
    expect(resumed.steps).toBe(whole.steps);
    expect(resumed.metrics).toEqual(whole.metrics);
  });

  it('resumes on native from a tfjs checkpoint, and on tfjs from a native one', async () => {
    const ref = await new LayersTrainer().train(input(mlp(), mlpData));
    const refNative = await new NativeCpuTrainer().train(input(mlp(), mlpData));
    const storeA = freshStore();
    const tfFirst = await new LayersTrainer().train(input(mlp(), mlpData, { epochs: 1, checkpoints: { store: storeA, everyEpochs: 1 } }));
    const onNative = await new NativeCpuTrainer().train(input(mlp(), mlpData, { checkpoints: { store: storeA }, resumeFrom: tfFirst.lastCheckpoint! }));
    expect(onNative.steps).toBe(ref.steps);
    expectClose(onNative, ref);
    const storeB = freshStore();
    const nativeFirst = await new NativeCpuTrainer().train(input(mlp(), mlpData, { epochs: 1, checkpoints: { store: storeB, everyEpochs: 1 } }));
    const onTfjs = await new LayersTrainer().train(input(mlp(), mlpData, { checkpoints: { store: storeB }, resumeFrom: nativeFirst.lastCheckpoint! }));
    expect(onTfjs.steps).toBe(refNative.steps);
    expectClose(onTfjs, refNative);
  });

  it('an abort signal cancels between steps and leaves a checkpoint that resumes to the uninterrupted result', async () => {
    const whole = await new NativeCpuTrainer().train(input(mlp(), mlpData));
    const controller = new AbortController();
    const store = freshStore();
    let batches = 0;
    const r = await new NativeCpuTrainer().train(
      input(mlp(), mlpData, { checkpoints: { store }, signal: controller.signal, onBatch: () => ++batches === 20 && controller.abort('stop here') }),
    );
    expect(r.status).toBe('cancelled');
    expect(r.reason).toBe('cancelled: stop here');
    // Steps already under way in the same native call finish (a call lasts about 100 ms).
    expect(r.steps).toBeGreaterThanOrEqual(20);
    expect(r.steps).toBeLessThan(whole.steps);
    expect(r.lastCheckpoint?.step).toBe(r.steps);
    const resumed = await new NativeCpuTrainer().train(input(mlp(), mlpData, { checkpoints: { store }, resumeFrom: r.lastCheckpoint! }));
    expect(resumed.metrics).toEqual(whole.metrics);
  });

  it('a loss that becomes NaN or Infinity abandons the run as LayersTrainer does', async () => {
    const d = data([12]);
    const compile = { optimizer: tf.train.sgd(1e6), loss: 'meanSquaredError', metrics: [] };
    const linear = () => tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [12], units: 3 })] });
    const ref = await new LayersTrainer().train(input(linear, d, { compile, objective: { metric: 'loss', direction: 'minimize' } }));
    const got = await new NativeCpuTrainer().train(input(linear, d, { compile, objective: { metric: 'loss', direction: 'minimize' } }));
    expect(ref.status).toBe('abandoned');
    expect(got.status).toBe('abandoned');
    expect(got.verdict?.policy).toBe('nan');
    expect(got.reason).toMatch(/^nan: training loss became (NaN|Infinity) at step \d+ \(epoch 1\)$/);
  });

  it('keeps the event loop free while a whole epoch runs in one native call', async () => {
    const big = { ...mlpData, train: teacher(4000, [12], 4) };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    try {
      await new NativeCpuTrainer().train(input(mlp(), big, { epochs: 2, data: { ...big, info: { ...big.info, counts: { train: 4000 } } } }));
    } finally {
      clearInterval(timer);
    }
    const ms = performance.now() - t0;
    expect(ticks).toBeGreaterThan(Math.min(3, ms / 20));
  });
});
