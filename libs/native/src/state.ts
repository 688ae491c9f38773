import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { NativePlan, NativeSession } from './addon.ts';

/**
 * Moves weights and optimizer state between the tfjs model/optimizer and a native session,
 * in tfjs's own layout (model.weights order; the optimizer's getWeights order), so a
 * checkpoint written from either side resumes on the other and export sees the trained weights.
 */

type Kind = NativePlan['optimizer']['kind'];

/** How many slots each optimizer keeps per weight, in tfjs's getWeights order, and their name suffixes. */
export function slotNames(kind: Kind, centered = false): string[] {
  switch (kind) {
    case 'adam':
      return ['m', 'v'];
    case 'momentum':
      return ['momentum'];
    case 'rmsprop':
      return centered ? ['rms', 'momentum', 'mg'] : ['rms', 'momentum'];
    case 'sgd':
      return [];
  }
}

export function pushWeights(session: NativeSession, model: LayersModel): void {
  model.weights.forEach((w, i) => {
    const t = w.read();
    session.setParam(i, t.dataSync() as Float32Array);
  });
}

export function pullWeights(session: NativeSession, model: LayersModel): void {
  const tensors = model.weights.map((w, i) => tf.tensor(session.getParam(i), w.shape as number[], 'float32'));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

interface OptimizerInternals {
  iterations_?: number;
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
  accumulatedFirstMoment?: ({ variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment?: ({ variable: tf.Variable } | undefined)[];
  accumulations?: ({ variable: tf.Variable } | undefined)[];
  accumulatedMeanSquares?: ({ variable: tf.Variable } | undefined)[];
  accumulatedMoments?: ({ variable: tf.Variable } | undefined)[];
  accumulatedMeanGrads?: ({ variable: tf.Variable } | undefined)[];
}

function slotArrays(o: OptimizerInternals, kind: Kind, centered: boolean): (({ variable: tf.Variable } | undefined)[] | undefined)[] {
  switch (kind) {
    case 'adam':
      return [o.accumulatedFirstMoment, o.accumulatedSecondMoment];
    case 'momentum':
      return [o.accumulations];
    case 'rmsprop':
      return centered ? [o.accumulatedMeanSquares, o.accumulatedMoments, o.accumulatedMeanGrads] : [o.accumulatedMeanSquares, o.accumulatedMoments];
    case 'sgd':
      return [];
  }
}

/** Loads the tfjs optimizer's state (fresh or restored from a checkpoint) into the session. */
export async function pushOptimizer(session: NativeSession, optimizer: tf.Optimizer, spec: NativePlan['optimizer'], trainable: number[]): Promise<void> {
  const weights = await optimizer.getWeights();
  const iterations = weights.length ? (await weights[0]!.tensor.data())[0]! : 0;
  const o = optimizer as unknown as OptimizerInternals;
  const accBeta1 = o.accBeta1 ? (await o.accBeta1.data())[0]! : spec.beta1 ?? 0;
  const accBeta2 = o.accBeta2 ? (await o.accBeta2.data())[0]! : spec.beta2 ?? 0;
  session.setOptScalars(iterations, accBeta1, accBeta2);
  const slots = slotNames(spec.kind, spec.centered);
  const rest = weights.slice(1);
  if (rest.length === 0) {
    // Never stepped: zero state.
    for (const p of trainable) for (let s = 0; s < slots.length; s++) session.setSlot(p, s, new Float32Array(session.getParam(p).length));
    return;
  }
  if (rest.length !== slots.length * trainable.length) {
    throw new Error(`the optimizer holds ${rest.length} state tensors; ${spec.kind} over ${trainable.length} trainable weights needs ${slots.length * trainable.length}`);
  }
  for (let s = 0; s < slots.length; s++) {
    for (const [k, p] of trainable.entries()) {
      session.setSlot(p, s, (await rest[s * trainable.length + k]!.tensor.data()) as Float32Array);
    }
  }
}

/** Writes the session's optimizer state back into the tfjs optimizer (for checkpoints and for a later fit on tfjs). */
export async function pullOptimizer(session: NativeSession, optimizer: tf.Optimizer, spec: NativePlan['optimizer'], model: LayersModel, trainable: number[]): Promise<void> {
  const [iterations, accBeta1, accBeta2] = session.getOptScalars();
  const o = optimizer as unknown as OptimizerInternals;
  const slots = slotNames(spec.kind, spec.centered);
  const arrays = slotArrays(o, spec.kind, Boolean(spec.centered));
  const weights = model.weights;
  const complete = arrays.every((a) => a && a.length === trainable.length && a.every((v) => v?.variable && !v.variable.isDisposed));
  if (complete) {
    for (let s = 0; s < slots.length; s++) {
      for (const [k, p] of trainable.entries()) {
        const t = tf.tensor(session.getSlot(p, s), weights[p]!.shape as number[], 'float32');
        arrays[s]![k]!.variable.assign(t);
        t.dispose();
      }
    }
    o.iterations_ = iterations;
  } else {
    const list: { name: string; tensor: tf.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(iterations, 'int32') }];
    for (let s = 0; s < slots.length; s++) {
      for (const p of trainable) list.push({ name: `${weights[p]!.name}/${slots[s]}`, tensor: tf.tensor(session.getSlot(p, s), weights[p]!.shape as number[], 'float32') });
    }
    await optimizer.setWeights(list);
  }
  if (o.accBeta1 && o.accBeta2) {
    o.accBeta1.assign(tf.scalar(accBeta1));
    o.accBeta2.assign(tf.scalar(accBeta2));
  }
}
