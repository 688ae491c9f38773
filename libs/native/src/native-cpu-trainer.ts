import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ValidationError } from '@cairn/schema';
import { FIT_SALT, Rng, checkPolicies, epochOrder, loadCheckpoint, saveCheckpoint, type CheckpointRef, type Evaluation, type FitState, type MetricPoint, type Split, type Trainer, type TrainerInput, type TrainResult, type Verdict } from '@cairn/engine';
import { loadAddon, threadCount, type NativeSession } from './addon.ts';
import { DropoutMasks } from './dropout-masks.ts';
import { compilePlan, Unsupported, type CompiledPlan } from './plan.ts';
import { pullOptimizer, pullWeights, pushOptimizer, pushWeights } from './state.ts';

/** Dropout multipliers handed to one native call at most (64 MiB). */
const MAX_MASK_FLOATS = 16 * 1024 * 1024;
/** When something must run between steps (onBatch, policies, timed checkpoints), one native call lasts about this long. */
const CHUNK_MS = 100;

type TensorSplit = { xs: tf.Tensor; ys: tf.Tensor };

function isTensorSplit(s: Split | undefined): s is TensorSplit {
  return !!s && 'xs' in s && 'ys' in s && s.xs instanceof tf.Tensor;
}

/** Features and targets of a split as float32, with the shape checks the core needs. */
async function splitData(name: string, s: TensorSplit, inputShape: number[], labelSize: number): Promise<{ xs: Float32Array; ys: Float32Array; rows: number }> {
  const rows = s.xs.shape[0]!;
  if (s.xs.shape.slice(1).join() !== inputShape.join()) {
    throw new ValidationError(`the ${name} split's features have shape [${s.xs.shape}], the model takes [rows, ${inputShape}]`);
  }
  if (s.ys.shape[0] !== rows) throw new ValidationError(`the ${name} split has ${rows} feature rows but ${s.ys.shape[0]} target rows`);
  const per = s.ys.shape.slice(1).reduce((a, b) => a * b, 1);
  if (per !== labelSize) throw new ValidationError(`the ${name} split's targets have shape [${s.ys.shape}], the model's loss needs ${labelSize} value(s) per row`);
  const f32 = (d: tf.TypedArray | string[]): Float32Array => (d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>));
  return { xs: f32(await s.xs.data()), ys: f32(await s.ys.data()), rows };
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r.message === 'This operation was aborted' ? 'cancelled' : `cancelled: ${r.message}`;
  return typeof r === 'string' && r ? `cancelled: ${r}` : 'cancelled';
}

/** A C++ error (bad data, bad shapes) as the engine's typed error. */
function asValidation(e: unknown): never {
  throw e instanceof Error && e.message.startsWith('cairn native: ') ? new ValidationError(e.message.slice('cairn native: '.length), { cause: e }) : e;
}

/** Target values per example: 1 for sparse labels (shape [n] or [n, 1]). */
export function labelSizeOf(ys: tf.Tensor): number {
  return ys.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** The plan for this model and data, or why native-cpu cannot run it. */
export function planFor(model: LayersModel, compile: TrainerInput['compile'], train: Split, batchSize: number): CompiledPlan {
  if (!isTensorSplit(train)) throw new Unsupported('tf.data pipelines are not supported by native-cpu (it needs the split as tensors)');
  const optimizer = (model.optimizer as tf.Optimizer | undefined) ?? compile.optimizer;
  return compilePlan(model, { loss: compile.loss, ...(compile.metrics ? { metrics: compile.metrics } : {}), optimizer, labelSize: labelSizeOf(train.ys), maxBatch: batchSize });
}

/**
 * The fit loop of LayersTrainer with the steps in C++: the same seeded batch order, metric
 * names, batch_* reports, validation, policies, checkpoints and results. The training split
 * is copied into native memory once; each native call runs many steps off the JS thread.
 * Weights and optimizer state go back into the tfjs model at checkpoints and at the end.
 */
export class NativeCpuTrainer implements Trainer {
  readonly name = 'native-cpu';

  constructor(private readonly options: { threads?: number } = {}) {}

  async train(input: TrainerInput): Promise<TrainResult> {
    const { model, data, reporter, objective } = input;
    const addon = loadAddon();
    model.compile({ optimizer: input.compile.optimizer, loss: input.compile.loss, ...(input.compile.metrics ? { metrics: input.compile.metrics } : {}) });
    const optimizer = model.optimizer as tf.Optimizer;
    let compiled: CompiledPlan;
    try {
      compiled = planFor(model, input.compile, data.train, input.batchSize);
    } catch (e) {
      if (e instanceof Unsupported) throw new ValidationError(e.message);
      throw e;
    }
    const names = model.metricsNames.map((n) => (n === 'loss' ? 'loss' : n));
    if (names.join() !== compiled.names.join()) throw new ValidationError(`native-cpu would report ${compiled.names.join(', ')} where tfjs reports ${names.join(', ')}`);
    const available = [...names, ...(data.validation ? names.map((n) => `val_${n}`) : [])];
    if (!available.includes(objective.metric)) {
      throw new ValidationError(`objective metric '${objective.metric}' is not reported by this fit; it reports ${available.join(', ')}${data.validation ? '' : ' (no validation split, so no val_* metrics)'}`);
    }
    const train = data.train as TensorSplit;
    for (const [name, s] of [['validation', data.validation], ['test', data.test]] as const) {
      if (s && !isTensorSplit(s)) throw new ValidationError(`native-cpu needs the ${name} split as tensors, not a tf.data pipeline`);
    }

    const batchSize = input.batchSize;
    // Buffers are sized for the training batch; evaluation goes by the same batch (one call, any size of split).
    const evalBatch = batchSize;
    const inputShape = compiled.plan.nodes[0]!.shape;
    const session: NativeSession = new addon.Session(compiled.plan, threadCount(this.options.threads));
    const onAbort = () => session.abort();
    input.signal?.addEventListener('abort', onAbort);
    try {
      const load = async (which: 0 | 1 | 2, name: string, s: TensorSplit) => {
        const d = await splitData(name, s, inputShape, compiled.plan.labelSize);
        try {
          session.setSplit(which, d.xs, d.ys, d.rows);
        } catch (e) {
          asValidation(e);
        }
      };
      await load(0, 'train', train);
      if (data.validation) await load(1, 'validation', data.validation as TensorSplit);
      if (data.test) await load(2, 'test', data.test as TensorSplit);

      const trainRows = train.xs.shape[0]!;
      const stepsPerEpoch = Math.max(1, Math.ceil(trainRows / batchSize));
      const every = Math.max(1, input.batchMetricsEvery ?? 10);
      const rng = new Rng((input.seed ^ FIT_SALT) >>> 0);
      const dropoutSeed = (input.seed ^ FIT_SALT) >>> 0;
      const dropout = new DropoutMasks(compiled.plan);

      let state: FitState = { epoch: 0, step: 0, stepInEpoch: 0, rng: rng.state, history: [], elapsedMs: 0 };
      let lastCheckpoint: CheckpointRef | undefined = input.resumeFrom;
      if (input.resumeFrom) {
        if (!input.checkpoints) throw new ValidationError('resume needs a checkpoint store');
        state = await loadCheckpoint(input.checkpoints.store, input.resumeFrom.id, model);
        rng.state = state.rng;
      }
      pushWeights(session, model);
      await pushOptimizer(session, optimizer, compiled.plan.optimizer, compiled.trainable);

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
      const syncBack = async () => {
        pullWeights(session, model);
        await pullOptimizer(session, optimizer, compiled.plan.optimizer, model, compiled.trainable);
      };
      let sums = new Float64Array(names.length);
      let seen = 0;
      const checkpoint = async (epoch: number, stepInEpoch: number): Promise<void> => {
        if (!input.checkpoints) return;
        await syncBack();
        const partial = stepInEpoch > 0 ? { partial: { sums: [...sums], seen } } : {};
        const fit: FitState = { epoch, step, stepInEpoch, rng: rng.state, history, ...(best ? { best } : {}), elapsedMs: elapsed(), ...partial };
        const saved = await saveCheckpoint(input.checkpoints.store, model, fit);
        lastCheckpoint = { id: saved.id, epoch, step };
        lastCheckpointAt = performance.now();
        await reporter.artifact({ path: `checkpoints/step-${String(step).padStart(8, '0')}.ckpt`, hash: saved.id, size: saved.size, mediaType: 'application/x-cairn-checkpoint' });
      };
      const evaluateSplit = async (which: 1 | 2, prefix: string): Promise<Record<string, number>> => {
        const values = await session.evaluate(which, evalBatch);
        return Object.fromEntries(names.map((n, i) => [`${prefix}${n}`, values[i]!]));
      };
      const evaluation = (epoch: number, metrics: Record<string, number>): Verdict | null => {
        const value = metrics[objective.metric] ?? Number.NaN;
        history.push({ step, epoch, elapsedMs: elapsed(), value, metrics });
        if (Number.isFinite(value) && (!best || better(value, best.value))) best = { value, step };
        return policyVerdict();
      };
      // Something must run between steps: keep each native call short. Otherwise an epoch
      // (up to the next validation) is one call.
      const perStep = Boolean(input.onBatch) || input.policies.length > 0 || Boolean(input.checkpoints?.everyMs);
      let stepMs = 0;

      try {
        for (let epoch = state.epoch; epoch < input.epochs; epoch++) {
          const skip = epoch === state.epoch ? state.stepInEpoch : 0;
          const epochStart = performance.now();
          const resumed = epoch === state.epoch && skip > 0 ? state.partial : undefined;
          sums = resumed ? Float64Array.from(resumed.sums) : new Float64Array(names.length);
          seen = resumed ? resumed.seen : 0;
          let seenHere = 0;
          let stepInEpoch = skip;
          const order = epochOrder(trainRows, input.seed, epoch);
          while (stepInEpoch < stepsPerEpoch) {
            if (input.signal?.aborted) {
              if (stepInEpoch > skip || epoch > state.epoch) await checkpoint(epoch, stepInEpoch);
              return end('cancelled', abortReason(input.signal));
            }
            let chunk = stepsPerEpoch - stepInEpoch;
            const v = input.validateEverySteps;
            if (v && data.validation) chunk = Math.min(chunk, v - (step % v));
            if (perStep) chunk = Math.min(chunk, stepMs > 0 ? Math.max(1, Math.floor(CHUNK_MS / stepMs)) : 1);
            if (dropout.any) chunk = Math.min(chunk, Math.max(1, Math.floor(MAX_MASK_FLOATS / (batchSize * dropout.perRow))));
            const t0 = performance.now();
            const before = rng.state;
            const drawn = dropout.any ? dropout.draw(rng, Array.from({ length: chunk }, (_, k) => Math.min(batchSize, trainRows - (stepInEpoch + k) * batchSize))) : undefined;
            const r = await session.train(order, stepInEpoch * batchSize, chunk, batchSize, dropoutSeed, step, drawn?.masks).catch(asValidation);
            // The Rng stays where tfjs's would be after the steps actually trained.
            if (drawn) rng.state = r.steps > 0 ? drawn.states[r.steps - 1]! : before;
            if (r.steps > 0) stepMs = (performance.now() - t0) / r.steps;
            for (let k = 0; k < r.steps; k++) {
              const values = r.values.subarray(k * r.width, (k + 1) * r.width);
              const rows = r.rows[k]!;
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
            }
            if (r.aborted) continue;
            if (r.steps === 0) throw new Error(`native-cpu trained no step at step ${stepInEpoch} of ${stepsPerEpoch}`);
            const between = policyVerdict();
            if (between) return end('abandoned', between.reason, between);
            if (v && data.validation && step % v === 0 && stepInEpoch < stepsPerEpoch) {
              const val = await evaluateSplit(1, 'val_');
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
          const val = data.validation ? await evaluateSplit(1, 'val_') : {};
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
          ];
          reporter.metrics(points);
          const verdict = evaluation(epoch, epochMetrics);
          if (input.checkpoints?.everyEpochs && (epoch + 1) % input.checkpoints.everyEpochs === 0) await checkpoint(epoch + 1, 0);
          if (verdict) return end('abandoned', verdict.reason, verdict);
        }
        if (data.test) {
          const test = await evaluateSplit(2, 'test_');
          reporter.metrics(Object.entries(test).map(([key, value]) => ({ key, value, step })));
          epochMetrics = { ...epochMetrics, ...test };
        }
        return end('finished');
      } finally {
        // Whatever happened, the tfjs model holds what was trained (export, serving, a later resume).
        await syncBack();
      }
    } finally {
      input.signal?.removeEventListener('abort', onAbort);
      session.release();
    }
  }
}
