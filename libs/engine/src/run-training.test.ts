import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LocalBlobStore } from '@cairn/snapshot';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { splitToDataset } from './data/pipeline.ts';
import { defineTraining } from './define.ts';
import { Rng } from './random.ts';
import { runTraining, type RunTrainingOptions } from './run-training.ts';
import type { MetricPoint, Reporter, TrainingData } from './types.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-engine-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshStore = () => new LocalBlobStore(join(base, `blobs${n++}`));

/** Two noisy clusters in 4 dimensions: learnable, not trivially. */
function blobs(rows: number, seed: number): { xs: number[][]; ys: number[][] } {
  const rng = new Rng(seed);
  const xs: number[][] = [];
  const ys: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const c = i % 2;
    xs.push([0, 1, 2, 3].map((d) => (c ? 1 : -1) * (d % 2 ? 0.5 : 1) + (rng.next() - 0.5) * 2.5));
    ys.push(c ? [0, 1] : [1, 0]);
  }
  return { xs, ys };
}

const params = z.object({ epochs: z.number().int().positive().default(4), batchSize: z.number().int().positive().default(16), lr: z.number().positive().default(0.05), units: z.number().int().positive().default(8) });

function definition(overrides: { data?: () => TrainingData | Promise<TrainingData>; lossScale?: number } = {}) {
  return defineTraining({
    name: 'blobs',
    params,
    data:
      overrides.data ??
      (() => {
        const train = blobs(160, 1);
        const val = blobs(40, 2);
        return { train: { xs: tf.tensor2d(train.xs), ys: tf.tensor2d(train.ys) }, validation: { xs: tf.tensor2d(val.xs), ys: tf.tensor2d(val.ys) }, info: { inputShape: [4], numClasses: 2, counts: { train: 160, validation: 40 } } };
      }),
    model: (p, info) => {
      const m = tfl.sequential();
      m.add(tfl.layers.dense({ units: p.units, activation: 'relu', inputShape: info.inputShape }));
      m.add(tfl.layers.dropout({ rate: 0.2 }));
      m.add(tfl.layers.dense({ units: 2, activation: 'softmax' }));
      return m;
    },
    compile: (p) => ({ optimizer: tf.train.adam(p.lr), loss: 'categoricalCrossentropy', metrics: ['accuracy'] }),
    objective: { metric: 'val_acc', direction: 'maximize' },
  });
}

/** A Reporter that keeps what it is told, in order. */
class Recorder implements Reporter {
  points: MetricPoint[] = [];
  artifacts: { path: string; hash: string; size: number }[] = [];
  env: Record<string, unknown> = {};
  metrics(p: MetricPoint[]): void {
    this.points.push(...p);
  }
  artifact(a: { path: string; hash: string; size: number }): void {
    this.artifacts.push(a);
  }
  environment(f: Record<string, unknown>): void {
    Object.assign(this.env, f);
  }
  series(key: string): number[] {
    return this.points.filter((p) => p.key === key).map((p) => p.value);
  }
}

async function train(extra: Partial<RunTrainingOptions> = {}, def = definition()) {
  const reporter = new Recorder();
  const outcome = await runTraining({ definition: def, dataDir: base, reporter, backend: 'cpu', ...extra });
  return { outcome, reporter };
}

describe('runTraining', () => {
  it('trains, streams per-batch and per-epoch metrics, and exports the model with a card', async () => {
    const store = freshStore();
    const { outcome, reporter } = await train({ store, params: { epochs: 6 } });
    expect(outcome.result.status, outcome.result.reason).toBe('finished');
    expect(outcome.result.epochs).toBe(6);
    expect(outcome.result.steps).toBe(60);
    expect(outcome.result.metrics.val_acc).toBeGreaterThan(0.8);
    expect(reporter.series('epoch')).toEqual([1, 2, 3, 4, 5, 6]);
    expect(reporter.series('batch_loss').length).toBe(6);
    expect(reporter.series('examples_per_sec').every((v) => v > 0)).toBe(true);
    expect(reporter.series('tf_tensors').length).toBe(6);
    expect(reporter.env.tfjsBackend).toBe('cpu');
    expect(outcome.exported.map((f) => f.path)).toEqual(['model/model.json', 'model/weights.bin', 'model/card.json']);
    const card = JSON.parse(new TextDecoder().decode(await store.get(outcome.exported[2]!.hash))) as { params: { epochs: number }; backend: string; metrics: Record<string, number> };
    expect(card).toMatchObject({ params: { epochs: 6, batchSize: 16 }, backend: 'cpu', metrics: outcome.result.metrics });
    // The exported files load back into tfjs and predict what the trained model scored.
    const modelJson = JSON.parse(new TextDecoder().decode(await store.get(outcome.exported[0]!.hash))) as tf.io.ModelJSON;
    const weights = await store.get(outcome.exported[1]!.hash);
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0]!.weights, weightData: weights.slice().buffer }));
    loaded.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const val = blobs(40, 2);
    const acc = (loaded.evaluate(tf.tensor2d(val.xs), tf.tensor2d(val.ys)) as tf.Scalar[])[1]!.dataSync()[0]!;
    expect(acc).toBeCloseTo(outcome.result.metrics.val_acc!, 5);
  });

  it('is deterministic: the same seed gives the same metrics, another seed others', async () => {
    const a = await train({ seed: 7 });
    const b = await train({ seed: 7 });
    const c = await train({ seed: 8 });
    expect(a.reporter.series('loss')).toEqual(b.reporter.series('loss'));
    expect(a.reporter.series('val_loss')).toEqual(b.reporter.series('val_loss'));
    expect(a.outcome.result.metrics).toEqual(b.outcome.result.metrics);
    expect(c.reporter.series('loss')).not.toEqual(a.reporter.series('loss'));
  });

  it('resumes from a checkpoint and ends with the same metrics as an uninterrupted run', async () => {
    const whole = await train({ seed: 3, params: { epochs: 5 } });
    const store = freshStore();
    // Interrupt in the middle of epoch 4 (steps 31–40).
    const stop = new AbortController();
    const first = await train({ seed: 3, params: { epochs: 5 }, store, checkpointEveryEpochs: 1, signal: stop.signal, onBatch: (p) => void (p.epoch === 3 && p.step === 4 && stop.abort()) });
    expect(first.outcome.result.status).toBe('cancelled');
    // A cancelled fit checkpoints where it stopped (mid-epoch 4, after 34 steps).
    expect(first.outcome.result.lastCheckpoint?.step).toBe(34);
    const resumed = await train({ seed: 3, params: { epochs: 5 }, store, resumeFrom: first.outcome.result.lastCheckpoint! });
    expect(resumed.outcome.result.status).toBe('finished');
    expect(resumed.outcome.result.steps).toBe(50);
    expect(resumed.outcome.result.metrics).toEqual(whole.outcome.result.metrics);
    expect(resumed.reporter.series('val_loss')).toEqual(whole.reporter.series('val_loss').slice(3));
  });

  it('never reads a tensor synchronously: validation, checkpoints and export work where dataSync cannot (webgpu in Node)', async () => {
    // The webgpu backend's dataSync needs OffscreenCanvas, which Node lacks; a sync read
    // anywhere in a fit failed it on an H200. Here every sync read throws the same way.
    const proto = tf.Tensor.prototype as unknown as { dataSync: () => unknown; arraySync: () => unknown };
    const [dataSync, arraySync] = [proto.dataSync, proto.arraySync];
    const refuse = () => {
      throw new ReferenceError('OffscreenCanvas is not defined');
    };
    proto.dataSync = refuse;
    proto.arraySync = refuse;
    try {
      const { outcome, reporter } = await train({ store: freshStore(), params: { epochs: 2 }, checkpointEveryEpochs: 1 });
      expect(outcome.result.status, outcome.result.reason).toBe('finished');
      expect(reporter.series('val_acc')).toHaveLength(2);
      expect(outcome.result.lastCheckpoint).toBeDefined();
      expect(reporter.artifacts.some((a) => a.path.startsWith('model/'))).toBe(true);
    } finally {
      proto.dataSync = dataSync;
      proto.arraySync = arraySync;
    }
  });

  it('resumes from a mid-epoch checkpoint to the same metrics', async () => {
    const whole = await train({ seed: 4, params: { epochs: 3 } });
    const store = freshStore();
    const stop = new AbortController();
    // everyMs 0: a checkpoint after every batch, so the last one is mid-epoch.
    const first = await train({ seed: 4, params: { epochs: 3 }, store, checkpointEveryMs: 0.000001, signal: stop.signal, onBatch: (p) => void (p.epoch === 1 && p.step === 6 && stop.abort()) });
    expect(first.outcome.result.status).toBe('cancelled');
    // The abort lands before batch 17: the checkpoint after batch 16 is the last.
    expect(first.outcome.result.lastCheckpoint?.step).toBe(16);
    const resumed = await train({ seed: 4, params: { epochs: 3 }, store, resumeFrom: first.outcome.result.lastCheckpoint! });
    expect(resumed.outcome.result.metrics).toEqual(whole.outcome.result.metrics);
    // The epoch cut in two reports the same epoch-level training loss as the whole run.
    expect(resumed.reporter.series('loss')).toEqual(whole.reporter.series('loss').slice(1));
  });

  it('abandons (not fails) when the loss becomes NaN, keeping what was reported', async () => {
    const def = definition({
      data: () => {
        const t = blobs(64, 1);
        t.xs[40]![0] = Number.NaN;
        return { train: { xs: tf.tensor2d(t.xs), ys: tf.tensor2d(t.ys) }, info: { inputShape: [4], counts: { train: 64 } } };
      },
    });
    def.objective = { metric: 'acc', direction: 'maximize' };
    const { outcome, reporter } = await train({ params: { epochs: 3 } }, def);
    expect(outcome.result.status).toBe('abandoned');
    expect(outcome.result.verdict?.policy).toBe('nan');
    expect(outcome.result.reason).toMatch(/^nan: training loss became NaN at step \d+/);
    expect(reporter.series('batch_loss').some((v) => Number.isNaN(v))).toBe(true);
  });

  it('abandons on a plateau with the policy\'s numbers, and on a spent time budget', async () => {
    const plateau = await train({ params: { epochs: 30, lr: 1e-9 }, policies: [{ kind: 'plateau', patience: 2 }] });
    expect(plateau.outcome.result.status).toBe('abandoned');
    expect(plateau.outcome.result.verdict).toMatchObject({ policy: 'plateau', details: { patience: 2 } });
    expect(plateau.outcome.result.epochs).toBeLessThan(30);

    const budget = await train({ params: { epochs: 10_000 }, policies: [{ kind: 'time-budget', ms: 300 }] });
    expect(budget.outcome.result.status).toBe('abandoned');
    expect(budget.outcome.result.verdict?.policy).toBe('time-budget');
    expect(budget.outcome.result.epochs).toBeLessThan(10_000);
  });

  it('honours the abort signal between batches', async () => {
    const stop = new AbortController();
    const { outcome } = await train({ params: { epochs: 50 }, signal: stop.signal, onBatch: (p) => void (p.step === 3 && stop.abort(new Error('user pressed ctrl-c'))) });
    expect(outcome.result.status).toBe('cancelled');
    expect(outcome.result.reason).toBe('cancelled: user pressed ctrl-c');
    expect(outcome.result.steps).toBe(3);
  });

  it('fails with a clear reason on wrong params, a throwing data(), wrong shapes and a missing objective metric', async () => {
    const wrongType = await train({ params: { epochs: 'many' } });
    expect(wrongType.outcome.result).toMatchObject({ status: 'failed' });
    expect(wrongType.outcome.result.reason).toMatch(/^invalid params for blobs: epochs: /);

    const throwing = await train({}, definition({ data: () => { throw new Error('labels.csv: column "species" is missing'); } }));
    expect(throwing.outcome.result.status).toBe('failed');
    expect(throwing.outcome.result.reason).toBe('labels.csv: column "species" is missing');

    const badShape = await train(
      {},
      definition({ data: () => ({ train: { xs: tf.zeros([10, 3]), ys: tf.zeros([10, 2]) }, info: { inputShape: [4], counts: { train: 10 } } }) }),
    );
    expect(badShape.outcome.result.status).toBe('failed');
    expect(badShape.outcome.result.reason).toBe('data(): train features have shape [10, 3] but info.inputShape is [4]');

    const def3 = definition({ data: () => ({ train: { xs: tf.zeros([10, 4]), ys: tf.zeros([10, 3]) }, validation: { xs: tf.zeros([2, 4]), ys: tf.zeros([2, 3]) }, info: { inputShape: [4], counts: { train: 10 } } }) });
    const badOut = await train({}, def3);
    expect(badOut.outcome.result.reason).toBe('model() outputs shape [2] but the labels have shape [3] per example');

    const rows = await train({}, definition({ data: () => ({ train: { xs: tf.zeros([10, 4]), ys: tf.zeros([9, 2]) }, info: { inputShape: [4], counts: { train: 10 } } }) }));
    expect(rows.outcome.result.reason).toBe('data(): the train split has 10 feature rows but 9 label rows');

    const noVal = await train({}, definition({ data: () => ({ train: { xs: tf.zeros([10, 4]), ys: tf.zeros([10, 2]) }, info: { inputShape: [4], counts: { train: 10 } } }) }));
    expect(noVal.outcome.result.reason).toMatch(/objective metric 'val_acc' is not reported by this fit; it reports loss, acc \(no validation split/);
  });

  it('ends a data() that never finishes: abandoned at the tier budget, cancelled by the signal', async () => {
    const hang = definition({ data: () => new Promise<TrainingData>(() => undefined) });
    hang.tiers = { ci: { timeBudgetMs: 200 } };
    const budget = await train({ tier: 'ci' }, hang);
    expect(budget.outcome.result.status).toBe('abandoned');
    expect(budget.outcome.result.reason).toMatch(/data\(\) did not finish within the budget of 200 ms/);

    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const cancelled = await train({ signal: stop.signal }, definition({ data: () => new Promise<TrainingData>(() => undefined) }));
    expect(cancelled.outcome.result.status).toBe('cancelled');
  });

  it('trains from a seeded tf.data pipeline, validates every N steps, and evaluates a test split at the end', async () => {
    const def = definition({
      data: () => {
        const t = blobs(160, 1);
        const v = blobs(40, 2);
        const x = blobs(40, 3);
        const train = { xs: tf.tensor2d(t.xs), ys: tf.tensor2d(t.ys) };
        return {
          train: splitToDataset(train, { batchSize: 16, seed: 5 }),
          validation: { xs: tf.tensor2d(v.xs), ys: tf.tensor2d(v.ys) },
          test: { xs: tf.tensor2d(x.xs), ys: tf.tensor2d(x.ys) },
          info: { inputShape: [4], numClasses: 2, counts: { train: 160, validation: 40, test: 40 } },
        };
      },
    });
    const { outcome, reporter } = await train({ params: { epochs: 3 }, validateEverySteps: 4 }, def);
    expect(outcome.result.status, outcome.result.reason).toBe('finished');
    expect(outcome.result.steps).toBe(30);
    // Steps 4, 8 (mid-epoch) and 10 (epoch end) in the first epoch, and so on.
    expect(reporter.points.filter((p) => p.key === 'val_loss').map((p) => p.step)).toEqual([4, 8, 10, 12, 16, 20, 24, 28, 30]);
    expect(outcome.result.metrics.test_acc).toBeGreaterThan(0.7);
    expect(reporter.series('test_loss')).toHaveLength(1);
  });

  it('leaks no tensors across a run', async () => {
    await train({ params: { epochs: 1 } });
    const before = tf.memory().numTensors;
    await train({ params: { epochs: 2 } });
    expect(tf.memory().numTensors).toBe(before);
  });
});
