import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ValidationError } from '@cairn/schema';
import type { ArtifactStore, Evaluation } from './types.ts';

/**
 * A checkpoint bundle: `CAIRNCKPT` + version byte, a little-endian u32 header length,
 * the JSON header, then every tensor's raw bytes. One blob, so a checkpoint is one
 * content-addressed artifact and a torn one cannot exist (the blob store writes atomically).
 */
const MAGIC = new TextEncoder().encode('CAIRNCKPT\x01');

/** Where the fit stood: enough to continue it so it ends as an uninterrupted run would. */
export interface FitState {
  epoch: number;
  /** Optimizer steps taken over the whole run. */
  step: number;
  /** Batches of `epoch` already trained (a mid-epoch checkpoint resumes at the next). */
  stepInEpoch: number;
  rng: [number, number, number, number];
  history: Evaluation[];
  best?: { value: number; step: number };
  elapsedMs: number;
  /** Mid-epoch: the epoch's running metric sums (weighted by rows) and rows seen so far. */
  partial?: { sums: number[]; seen: number };
}

interface TensorSpec {
  name?: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  offset: number;
  bytes: number;
}

interface Header extends FitState {
  version: 1;
  model: TensorSpec[];
  optimizer: TensorSpec[];
  /** Scalar variables an optimizer keeps beside its weights (see optimizerScalars). */
  scalars?: Record<string, number>;
}

/**
 * Scalar state an optimizer holds outside getWeights(): Adam's running beta powers
 * (accBeta1, accBeta2). Its setWeights recomputes them as beta^(t+1), which differs
 * from the running product in the last bits, so a resumed run would drift from an
 * uninterrupted one. Saving and restoring them keeps resume exact.
 */
function optimizerScalars(optimizer: tf.Optimizer): [string, tf.Variable][] {
  return Object.entries(optimizer as unknown as Record<string, unknown>).filter((e): e is [string, tf.Variable] => e[1] instanceof tf.Variable && e[1].rank === 0);
}

export async function saveCheckpoint(store: ArtifactStore, model: LayersModel, state: FitState): Promise<{ id: string; size: number }> {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const add = async (t: tf.Tensor, name?: string): Promise<TensorSpec> => {
    const data = await t.data();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    parts.push(bytes);
    const spec: TensorSpec = { ...(name ? { name } : {}), shape: t.shape, dtype: t.dtype as TensorSpec['dtype'], offset, bytes: bytes.length };
    offset += bytes.length;
    return spec;
  };
  const modelSpecs: TensorSpec[] = [];
  for (const w of model.getWeights()) modelSpecs.push(await add(w));
  const optSpecs: TensorSpec[] = [];
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  if (optimizer) for (const w of await optimizer.getWeights()) optSpecs.push(await add(w.tensor, w.name));
  // data(), not dataSync(): webgpu has no synchronous read in Node.
  const scalars = optimizer ? Object.fromEntries(await Promise.all(optimizerScalars(optimizer).map(async ([k, v]) => [k, (await v.data())[0]!] as const))) : {};
  const header: Header = { version: 1, ...state, model: modelSpecs, optimizer: optSpecs, scalars };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + head.length + offset);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, head.length, true);
  out.set(head, MAGIC.length + 4);
  let at = MAGIC.length + 4 + head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { id: await store.put(out), size: out.length };
}

/** Restores weights and optimizer state into `model` (built and compiled the same way) and returns the fit state. */
export async function loadCheckpoint(store: ArtifactStore, id: string, model: LayersModel): Promise<FitState> {
  const bytes = await store.get(id);
  if (bytes.length < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b)) throw new ValidationError(`blob ${id} is not a Cairn checkpoint`);
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + len))) as Header;
  const base = MAGIC.length + 4 + len;
  const tensor = (s: TensorSpec): tf.Tensor => {
    const raw = bytes.slice(base + s.offset, base + s.offset + s.bytes);
    const values = s.dtype === 'float32' ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
    return tf.tensor(values, s.shape, s.dtype);
  };
  const current = model.getWeights();
  if (current.length !== header.model.length || current.some((w, i) => w.shape.join() !== header.model[i]!.shape.join())) {
    throw new ValidationError(`checkpoint ${id.slice(0, 12)} does not fit this model: it holds ${header.model.length} weight tensors, the model has ${current.length} (or their shapes differ); resume needs the same code and params`);
  }
  const weights = header.model.map(tensor);
  model.setWeights(weights);
  tf.dispose(weights);
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  if (optimizer && header.optimizer.length > 0) {
    // setWeights keeps the tensors it is given (as variables' initial values), so they are not disposed here.
    await optimizer.setWeights(header.optimizer.map((s) => ({ name: s.name ?? '', tensor: tensor(s) })));
    for (const [key, variable] of optimizerScalars(optimizer)) {
      const saved = header.scalars?.[key];
      if (saved !== undefined) variable.assign(tf.scalar(saved, variable.dtype));
    }
  }
  return { epoch: header.epoch, step: header.step, stepInEpoch: header.stepInEpoch, rng: header.rng, history: header.history, ...(header.best ? { best: header.best } : {}), elapsedMs: header.elapsedMs, ...(header.partial ? { partial: header.partial } : {}) };
}
