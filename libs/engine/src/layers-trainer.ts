import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '@tensorflow/tfjs-data';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ValidationError } from '@cairn/schema';
import { loadCheckpoint, saveCheckpoint, type FitState } from './checkpoint.ts';
import { checkPolicies } from './policies/index.ts';
import { Rng, epochOrder, seedMathRandom } from './random.ts';
import type { Batch, CheckpointRef, Evaluation, MetricPoint, Split, Trainer, TrainerInput, TrainResult, Verdict } from './types.ts';

/** Salt so fit-time randomness (dropout) draws from another stream than the initialisers. */
export const FIT_SALT = 0x5eed_f17;

function isTensorSplit(s: Split): s is { xs: tf.Tensor; ys: tf.Tensor } {
  return 'xs' in s && 'ys' in s && s.xs instanceof tf.Tensor;
}

function rowsOf(s: Split, fallback: number): number {
  return isTensorSplit(s) ? s.xs.shape[0]! : fallback;
}

/**
 * The values a fit or an evaluation returns. Tensors are read with `data()`, never
 * `dataSync()`: the webgpu backend has no synchronous read in Node (its dataSync goes
 * through an OffscreenCanvas, which Node lacks), so a sync read failed every validation
 * pass on a GPU (found on an H200: "OffscreenCanvas is not defined").
 */
async function scalars(out: tf.Scalar | tf.Scalar[] | number | number[]): Promise<number[]> {
  const list = Array.isArray(out) ? out : [out];
  return Promise.all(list.map(async (v) => (typeof v === 'number' ? v : (await v.data())[0]!)));
}

/** Reads an evaluation's scalars, then frees them. */
async function evaluated(out: tf.Scalar | tf.Scalar[]): Promise<number[]> {
  try {
    return await scalars(out);
  } finally {
    tf.dispose(out);
  }
}

/**
 * The fit loop on tfjs layers, one `trainOnBatch` per step. The loop is ours rather than
 * `model.fit` so that shuffles are seeded, a checkpoint can land mid-epoch and resume at
 * the same batch, policies and the abort signal are checked between batches, and metrics
 * stream to the Reporter as they happen.
 */
export class LayersTrainer implements Trainer {
  readonly name = 'tfjs-layers';

  async train(input: TrainerInput): Promise<TrainResult> {
    const { model, data, reporter, objective } = input;
    model.compile({ optimizer: input.compile.optimizer, loss: input.compile.loss, ...(input.compile.metrics ? { metrics: input.compile.metrics } : {}) });
    const names = model.metricsNames.map((n) => (n === 'loss' ? 'loss' : n));
    const available = [...names, ...(data.validation ? names.map((n) => `val_${n}`) : [])];
    if (!available.includes(objective.metric)) {
      throw new ValidationError(`objective metric '${objective.metric}' is not reported by this fit; it reports ${available.join(', ')}${data.validation ? '' : ' (no validation split, so no val_* metrics)'}`);
    }

    const batchSize = input.batchSize;
    const trainRows = rowsOf(data.train, data.info.counts.train);
    const stepsPerEpoch = Math.max(1, Math.ceil(trainRows / batchSize));
    const every = Math.max(1, input.batchMetricsEvery ?? 10);
    const rng = new Rng((input.seed ^ FIT_SALT) >>> 0);

    let state: FitState = { epoch: 0, step: 0, stepInEpoch: 0, rng: rng.state, history: [], elapsedMs: 0 };
    let lastCheckpoint: CheckpointRef | undefined = input.resumeFrom;
    if (input.resumeFrom) {
      if (!input.checkpoints) throw new ValidationError('resume needs a checkpoint store');
      state = await loadCheckpoint(input.checkpoints.store, input.resumeFrom.id, model);
      rng.state = state.rng;
    }
    const history: Evaluation[] = [...state.history];
    let best = state.best;
    const started = performance.now();
    const elapsed = () => state.elapsedMs + (performance.now() - started);
    let step = state.step;
    let lastCheckpointAt = performance.now();
    let epochMetrics: Record<string, number> = {};

    const better = (a: number, b: number) => (objective.direction === 'minimize' ? a < b : a > b);
    const end = (status: TrainResult['status'], reason?: string, verdict?: Verdict): TrainResult => ({
      status,
      ...(reason ? { reason } : {}),
      ...(verdict ? { verdict } : {}),
      metrics: epochMetrics,
      epochs: history.length ? Math.max(...history.map((h) => h.epoch)) + 1 : 0,
      steps: step,
      ...(best ? { best } : {}),
      ...(lastCheckpoint ? { lastCheckpoint } : {}),
      elapsedMs: elapsed(),
    });
    const policyVerdict = (): Verdict | null => checkPolicies(input.policies, { direction: objective.direction, history, peers: input.peers ?? [], elapsedMs: elapsed() });
    // The running sums of the epoch in progress, so a mid-epoch checkpoint carries them.
    let sums = new Float64Array(names.length);
    let seen = 0;
    const checkpoint = async (epoch: number, stepInEpoch: number): Promise<void> => {
      if (!input.checkpoints) return;
      const partial = stepInEpoch > 0 ? { partial: { sums: [...sums], seen } } : {};
      const fit: FitState = { epoch, step, stepInEpoch, rng: rng.state, history, ...(best ? { best } : {}), elapsedMs: elapsed(), ...partial };
      const saved = await saveCheckpoint(input.checkpoints.store, model, fit);
      lastCheckpoint = { id: saved.id, epoch, step };
      lastCheckpointAt = performance.now();
      await reporter.artifact({ path: `checkpoints/step-${String(step).padStart(8, '0')}.ckpt`, hash: saved.id, size: saved.size, mediaType: 'application/x-cairn-checkpoint' });
    };
    const evaluateAsync = async (split: Split, prefix: string): Promise<Record<string, number>> => {
      const out = isTensorSplit(split)
        ? model.evaluate(split.xs, split.ys, { batchSize: Math.max(batchSize, 256) })
        : await model.evaluateDataset(split as Dataset<Batch>, {});
      const values = await evaluated(out as tf.Scalar | tf.Scalar[]);
      return Object.fromEntries(names.map((n, i) => [`${prefix}${n}`, values[i]!]));
    };
    /** Records an evaluation, reports it, and asks the policies. */
    const evaluation = (epoch: number, metrics: Record<string, number>): Verdict | null => {
      const value = metrics[objective.metric] ?? Number.NaN;
      history.push({ step, epoch, elapsedMs: elapsed(), value, metrics });
      if (Number.isFinite(value) && (!best || better(value, best.value))) best = { value, step };
      return policyVerdict();
    };

    const restore = seedMathRandom(rng);
    try {
      for (let epoch = state.epoch; epoch < input.epochs; epoch++) {
        const skip = epoch === state.epoch ? state.stepInEpoch : 0;
        const epochStart = performance.now();
        const resumed = epoch === state.epoch && skip > 0 ? state.partial : undefined;
        sums = resumed ? Float64Array.from(resumed.sums) : new Float64Array(names.length);
        seen = resumed ? resumed.seen : 0;
        let seenHere = 0;
        let stepInEpoch = skip;
        for await (const batch of batches(data.train, batchSize, input.seed, epoch, skip)) {
          // A turn of the event loop per step: tfjs's CPU and wasm kernels are synchronous, so
          // without it one loop turn lasts an epoch, and whatever shares the loop (lock renewal
          // and heartbeats on the main thread, an abort message in a training thread) waits for it.
          await yieldToLoop();
          if (input.signal?.aborted) {
            tf.dispose([batch.xs, batch.ys]);
            // A checkpoint first, so a cancelled or handed-back run can be resumed from here.
            if (stepInEpoch > skip || epoch > state.epoch) await checkpoint(epoch, stepInEpoch);
            return end('cancelled', abortReason(input.signal));
          }
          const rows = batch.xs.shape[0]!;
          const out = await model.trainOnBatch(batch.xs, batch.ys);
          tf.dispose([batch.xs, batch.ys]);
          const values = await scalars(out as number | number[]);
          step++;
          stepInEpoch++;
          seen += rows;
          seenHere += rows;
          for (let i = 0; i < names.length; i++) sums[i]! += values[i]! * rows;
          const loss = values[0]!;
          if (!Number.isFinite(loss)) {
            const verdict: Verdict = { policy: 'nan', reason: `nan: training loss became ${loss} at step ${step} (epoch ${epoch + 1})`, details: { step, epoch } };
            reporter.metrics([{ key: 'batch_loss', value: loss, step }]);
            return end('abandoned', verdict.reason, verdict);
          }
          if (step % every === 0) reporter.metrics(names.map((n, i) => ({ key: `batch_${n}`, value: values[i]!, step })));
          const secs = (performance.now() - epochStart) / 1000;
          input.onBatch?.({ epoch, epochs: input.epochs, step: stepInEpoch, stepsPerEpoch, loss, examplesPerSec: secs > 0 ? seenHere / secs : 0 });
          // Time budgets and similar run out between evaluations too.
          const between = policyVerdict();
          if (between) return end('abandoned', between.reason, between);
          if (input.validateEverySteps && data.validation && step % input.validateEverySteps === 0 && stepInEpoch < stepsPerEpoch) {
            const val = await evaluateAsync(data.validation, 'val_');
            reporter.metrics(Object.entries(val).map(([key, value]) => ({ key, value, step })));
            const verdict = evaluation(epoch, { ...val, epoch });
            if (verdict) return end('abandoned', verdict.reason, verdict);
          }
          if (input.checkpoints?.everyMs && performance.now() - lastCheckpointAt >= input.checkpoints.everyMs && stepInEpoch < stepsPerEpoch) {
            await checkpoint(epoch, stepInEpoch);
          }
        }
        const epochMs = performance.now() - epochStart;
        const trainMetrics = Object.fromEntries(names.map((n, i) => [n, seen > 0 ? sums[i]! / seen : Number.NaN]));
        const val = data.validation ? await evaluateAsync(data.validation, 'val_') : {};
        const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
        epochMetrics = { ...trainMetrics, ...val };
        const points: MetricPoint[] = [
          ...Object.entries(epochMetrics).map(([key, value]) => ({ key, value, step })),
          { key: 'epoch', value: epoch + 1, step },
          { key: 'epoch_time_s', value: epochMs / 1000, step },
          { key: 'examples_per_sec', value: seenHere / Math.max(epochMs / 1000, 1e-9), step },
          { key: 'tf_memory_bytes', value: mem.numBytes, step },
          { key: 'tf_tensors', value: mem.numTensors, step },
          { key: 'rss_bytes', value: process.memoryUsage().rss, step },
          ...(typeof mem.numBytesInGPU === 'number' ? [{ key: 'gpu_memory_bytes', value: mem.numBytesInGPU, step }] : []),
        ];
        reporter.metrics(points);
        const verdict = evaluation(epoch, epochMetrics);
        if (input.checkpoints?.everyEpochs && (epoch + 1) % input.checkpoints.everyEpochs === 0) await checkpoint(epoch + 1, 0);
        if (verdict) return end('abandoned', verdict.reason, verdict);
      }
      if (data.test) {
        const test = await evaluateAsync(data.test, 'test_');
        reporter.metrics(Object.entries(test).map(([key, value]) => ({ key, value, step })));
        epochMetrics = { ...epochMetrics, ...test };
      }
      return end('finished');
    } finally {
      restore();
    }
  }
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r.message === 'This operation was aborted' ? 'cancelled' : `cancelled: ${r.message}`;
  return typeof r === 'string' && r ? `cancelled: ${r}` : 'cancelled';
}

/** The batches of one epoch: a seeded permutation for tensor splits, the pipeline's own order for tf.data. */
async function* batches(split: Split, batchSize: number, seed: number, epoch: number, skip: number): AsyncGenerator<Batch> {
  if (isTensorSplit(split)) {
    const n = split.xs.shape[0]!;
    const order = epochOrder(n, seed, epoch);
    for (let start = skip * batchSize; start < n; start += batchSize) {
      const idx = tf.tensor1d(order.subarray(start, Math.min(n, start + batchSize)), 'int32');
      const xs = tf.gather(split.xs, idx);
      const ys = tf.gather(split.ys, idx);
      idx.dispose();
      yield { xs, ys };
    }
    return;
  }
  const it = await (split as Dataset<Batch>).iterator();
  let i = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    if (i++ < skip) {
      tf.dispose([r.value.xs, r.value.ys]);
      continue;
    }
    yield r.value;
  }
}

/** The trainer every caller uses unless told otherwise. */
export function defaultTrainer(): Trainer {
  return new LayersTrainer();
}

export type { LayersModel };
