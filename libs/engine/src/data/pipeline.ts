import * as tf from '@tensorflow/tfjs-core';
import * as tfd from '@tensorflow/tfjs-data';
import type { Dataset } from '@tensorflow/tfjs-data';
import { ValidationError } from '@cairn/schema';
import type { Batch, Split } from '../types.ts';

export interface PipelineOptions {
  batchSize: number;
  /** Seeds the shuffle (pass ctx.seed). */
  seed: number;
  /** Default true. */
  shuffle?: boolean;
  /** Shuffle buffer in examples; default: the whole split (a full shuffle). */
  bufferSize?: number;
}

/**
 * A split as a seeded tf.data pipeline of batches. Tensors are not copied per example:
 * the pipeline shuffles row indices (tf.data's `shuffle(bufferSize, String(seed))`),
 * batches them and gathers each batch's rows. A Dataset is returned as it is (it yields
 * batches already). tf.data reshuffles on every pass over the data; the sequence of
 * orders is fixed by the seed for a pipeline iterated from its creation.
 */
export function splitToDataset(split: Split, options: PipelineOptions): Dataset<Batch> {
  if (!('xs' in split && split.xs instanceof tf.Tensor)) return split as Dataset<Batch>;
  const { xs, ys } = split;
  const n = xs.shape[0]!;
  if (ys.shape[0] !== n) throw new ValidationError(`split has ${n} feature rows but ${ys.shape[0]} label rows`);
  checkBatch(options.batchSize);
  let indices: Dataset<number> = tfd.array(Array.from({ length: n }, (_, i) => i));
  if (options.shuffle ?? true) indices = indices.shuffle(Math.max(1, options.bufferSize ?? n), String(options.seed));
  return indices.batch(options.batchSize).map((idx) =>
    tf.tidy(() => {
      const at = tf.cast(idx as tf.Tensor, 'int32');
      return { xs: tf.gather(xs, at), ys: tf.gather(ys, at) };
    }),
  ) as Dataset<Batch>;
}

/**
 * Wraps a user's tf.data Dataset of single examples ({ xs, ys } per element) into a
 * seeded, batched pipeline: `shuffle(bufferSize, String(seed)).batch(batchSize)`. tf.data
 * treats a missing or empty seed as "seed from the clock", so the seed is always given.
 */
export function batchExamples(examples: Dataset<Batch>, options: PipelineOptions & { bufferSize: number }): Dataset<Batch> {
  checkBatch(options.batchSize);
  if (!(options.bufferSize >= 1)) throw new ValidationError(`bufferSize must be at least 1, got ${String(options.bufferSize)}`);
  const shuffled = (options.shuffle ?? true) ? examples.shuffle(options.bufferSize, String(options.seed)) : examples;
  return shuffled.batch(options.batchSize) as Dataset<Batch>;
}

/** The first `count` examples of a split as tensors (a sample for checks and previews). */
export async function sampleSplit(split: Split, count: number): Promise<Batch> {
  if ('xs' in split && split.xs instanceof tf.Tensor) {
    const n = Math.min(count, split.xs.shape[0]!);
    return { xs: tf.slice(split.xs, 0, n), ys: tf.slice(split.ys, 0, n) };
  }
  const it = await (split as Dataset<Batch>).iterator();
  const first = await it.next();
  if (first.done) throw new ValidationError('the dataset is empty');
  const b = first.value as Batch;
  const n = Math.min(count, b.xs.shape[0]!);
  const sample = { xs: tf.slice(b.xs, 0, n), ys: tf.slice(b.ys, 0, n) };
  tf.dispose([b.xs, b.ys]);
  return sample;
}

function checkBatch(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValidationError(`batchSize must be a positive integer, got ${String(batchSize)}`);
}
