import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { CompileSpec } from '@cairn/engine';
import { Rng } from '@cairn/engine';

/**
 * The engine benchmark's two reference models and how their training throughput is timed.
 * Kept apart from engine.ts (which also opens a store) so tools/gpu-check can bundle it
 * without the store. torch_reference.py mirrors these models and this timing.
 */

export type Workload = 'mlp' | 'cnn';

export interface WorkloadSpec {
  name: Workload;
  label: string;
  inputShape: number[];
  batch: number;
  build(): tfl.LayersModel;
}

export const WORKLOADS: readonly WorkloadSpec[] = [
  {
    name: 'mlp',
    label: 'MLP 784-256-128-10, batch 128, Adam',
    inputShape: [784],
    batch: 128,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }),
          tfl.layers.dense({ units: 128, activation: 'relu' }),
          tfl.layers.dense({ units: 10, activation: 'softmax' }),
        ],
      }),
  },
  {
    name: 'cnn',
    label: 'CNN conv16-pool-conv32-pool-dense10, 28x28x1, batch 64, Adam',
    inputShape: [28, 28, 1],
    batch: 64,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu' }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 10, activation: 'softmax' }),
        ],
      }),
  },
];

export const LEARNING_RATE = 1e-3;
export const compileSpec = (): CompileSpec => ({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
/** The same, with the optimizer by name (for requiredKernels, which makes its own). */
export const COMPILE_BY_NAME: CompileSpec = { optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] };
/** Distinct synthetic batches cycled through, so no step sees the batch of the step before. */
const DISTINCT_BATCHES = 4;


/** Runs `f` with Math.random drawn from `seed` (tfjs's initialisers read Math.random). */
export function seeded<T>(seed: number, f: () => T): T {
  const random = Math.random;
  const rng = new Rng(seed);
  Math.random = () => rng.next();
  try {
    return f();
  } finally {
    Math.random = random;
  }
}

/** Seeded uniform [0, 1) features and one-hot labels over 10 classes, on the active backend. */
export function syntheticBatches(w: WorkloadSpec, count: number, seed: number, rows = w.batch): { xs: tf.Tensor; ys: tf.Tensor }[] {
  return Array.from({ length: count }, (_, i) =>
    tf.tidy(() => {
      const xs = tf.randomUniform([rows, ...w.inputShape], 0, 1, 'float32', seed + i);
      const labels = tf.randomUniform([rows], 0, 10, 'int32', seed + 1000 + i);
      return { xs, ys: tf.cast(tf.oneHot(labels, 10), 'float32') };
    }),
  );
}

export interface Sizing {
  /** Target duration of one timed repetition. */
  repMs: number;
  reps: number;
  /** Repetitions when one step takes over SLOW_STEP_MS (the cpu backend's CNN). */
  slowReps: number;
  warmupSteps: number;
}
export const SLOW_STEP_MS = 1000;
export const sizing = (quick: boolean): Sizing => (quick ? { repMs: 400, reps: 3, slowReps: 2, warmupSteps: 3 } : { repMs: 2000, reps: 5, slowReps: 3, warmupSteps: 5 });

export interface Throughput {
  /** Examples per second of each timed repetition. */
  exPerSec: number[];
  /** Steps per repetition. */
  steps: number;
  /** The last warm-up step's duration. */
  stepMs: number;
  /** This process's CPU time over wall time during the timed repetitions (1 = one core busy). */
  cpuShare: number;
}

/**
 * Warm-up, then timed repetitions of `steps` trainOnBatch calls each, on the active
 * backend. Every step waits for its loss (trainOnBatch reads it back), as the trainer
 * does, so a GPU backend's queue cannot hide work. The first step (kernel compilation,
 * weight upload) is never timed; a step slower than SLOW_STEP_MS ends the warm-up early
 * and gets fewer, one-step repetitions, so the cpu backend's CNN stays a handful of steps.
 */
export async function measure(w: WorkloadSpec, size: Sizing): Promise<Throughput> {
  const model = seeded(7, () => w.build());
  const batches = syntheticBatches(w, DISTINCT_BATCHES, 11);
  const compile = compileSpec();
  model.compile({ optimizer: compile.optimizer, loss: compile.loss, metrics: compile.metrics! });
  let i = 0;
  const step = async () => {
    const b = batches[i++ % batches.length]!;
    await model.trainOnBatch(b.xs, b.ys);
  };
  try {
    await step();
    let stepMs = Infinity;
    for (let k = 1; k < size.warmupSteps; k++) {
      const t = performance.now();
      await step();
      stepMs = performance.now() - t;
      if (stepMs > SLOW_STEP_MS) break;
    }
    const slow = stepMs > SLOW_STEP_MS;
    const steps = slow ? 1 : Math.max(2, Math.min(1000, Math.ceil(size.repMs / stepMs)));
    const reps = slow ? size.slowReps : size.reps;
    const exPerSec: number[] = [];
    const tensors = tf.memory().numTensors;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      for (let s = 0; s < steps; s++) await step();
      exPerSec.push((steps * w.batch) / ((performance.now() - t) / 1000));
    }
    const cpu = process.cpuUsage(cpu0);
    const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
    const leaked = tf.memory().numTensors - tensors;
    if (leaked > 0) throw new Error(`${leaked} tensors leaked over ${reps * steps} training steps`);
    return { exPerSec, steps, stepMs, cpuShare };
  } finally {
    tf.dispose(batches.flatMap((b) => [b.xs, b.ys]));
    model.dispose();
    if (compile.optimizer instanceof tf.Optimizer) compile.optimizer.dispose();
  }
}
