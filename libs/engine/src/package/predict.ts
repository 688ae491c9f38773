import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ValidationError } from '@cairn/schema';
import type { InputSchema } from './input-schema.ts';

export interface ClassPrediction {
  /** The class name when the package knows the classes, else the class index. */
  label: string | number;
  /** Per class (name, or index as text), summing to 1. */
  probabilities: Record<string, number>;
}
export interface ValuePrediction {
  value: number;
}
/** A regression with several outputs per row. */
export interface ValuesPrediction {
  values: number[];
}
export type Prediction = ClassPrediction | ValuePrediction | ValuesPrediction;

/**
 * How a classifier's outputs become probabilities, decided once at load from the model's
 * last activation: softmax outputs are used as they are, a linear layer's outputs are
 * logits (softmax applied here), one sigmoid unit is a binary classifier's P(class 1).
 */
export type OutputMode = 'probabilities' | 'logits' | 'sigmoid' | 'regression';

function finalActivation(model: LayersModel): string | undefined {
  const last = model.layers[model.layers.length - 1];
  if (!last) return undefined;
  if (last.getClassName() === 'Softmax') return 'softmax';
  try {
    const a = last.getConfig().activation;
    return typeof a === 'string' ? a : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the model's output against the schema (so a mismatch fails at load, not per request). */
export function outputModeOf(model: LayersModel, schema: InputSchema): OutputMode {
  if (model.outputs.length !== 1) throw new ValidationError(`the model has ${model.outputs.length} outputs; a packaged model must have one`);
  if (schema.task === 'regression') return 'regression';
  const shape = model.outputs[0]!.shape;
  const width = shape[1];
  if (shape.length !== 2 || typeof width !== 'number') throw new ValidationError(`a classifier's output must be [batch, classes], the model's is [${shape.map(String).join(', ')}]`);
  const activation = finalActivation(model);
  const classes = schema.classes?.length;
  if (width === 1 && activation === 'sigmoid' && (classes === undefined || classes === 2)) return 'sigmoid';
  if (classes !== undefined && width !== classes) throw new ValidationError(`the model outputs ${width} values per row but the input schema names ${classes} classes`);
  return activation === 'linear' ? 'logits' : 'probabilities';
}

/** One model call over rows already validated and normalised; returns the flat outputs and per-row width. */
export async function runModel(model: LayersModel, values: Float32Array, shape: number[]): Promise<{ out: Float32Array; width: number }> {
  // tidy frees the input and every intermediate; only the returned output survives it.
  const y = tf.tidy(() => model.predict(tf.tensor(values, shape, 'float32')) as tf.Tensor);
  try {
    const out = (await y.data()) as Float32Array;
    return { out, width: out.length / shape[0]! };
  } finally {
    y.dispose();
  }
}

function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function classify(probs: number[], classes: string[] | undefined): ClassPrediction {
  let best = 0;
  for (let c = 1; c < probs.length; c++) if (probs[c]! > probs[best]!) best = c;
  const probabilities: Record<string, number> = {};
  probs.forEach((p, c) => (probabilities[classes ? classes[c]! : String(c)] = p));
  return { label: classes ? classes[best]! : best, probabilities };
}

/** Turns flat model outputs, `width` per row, into one prediction per row. */
export function decode(mode: OutputMode, schema: InputSchema, out: Float32Array, width: number): Prediction[] {
  const rows = out.length / width;
  const result: Prediction[] = [];
  for (let i = 0; i < rows; i++) {
    const row = Array.from(out.subarray(i * width, (i + 1) * width));
    if (mode === 'regression') result.push(width === 1 ? { value: row[0]! } : { values: row });
    else if (mode === 'sigmoid') result.push(classify([1 - row[0]!, row[0]!], schema.classes));
    else result.push(classify(mode === 'logits' ? softmax(row) : row, schema.classes));
  }
  return result;
}
