import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { CairnError } from '@cairn/schema';

/**
 * The C++ core, loaded from libs/native/build (built by `npm ci` through this package's
 * install script). When it is missing the reason is the build's own (build/status.json):
 * no compiler, a failed build, or a load error; callers get NativeUnavailableError and
 * training goes on the tfjs backends.
 */
export class NativeUnavailableError extends CairnError {
  constructor(readonly reason: string) {
    super('INVALID_STATE', `native-cpu is unavailable: ${reason}`);
  }
}

/** A plan as the addon reads it (see src/core/plan.h). */
export interface NativePlan {
  nodes: NativeNode[];
  params: { shape: number[]; trainable: boolean }[];
  output: number;
  loss: 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy' | 'binaryCrossentropy' | 'meanSquaredError';
  fused: boolean;
  metrics: string[];
  labelSize: number;
  maxBatch: number;
  optimizer: { kind: 'sgd' | 'momentum' | 'adam' | 'rmsprop'; learningRate: number; beta1?: number; beta2?: number; epsilon?: number; momentum?: number; decay?: number; nesterov?: boolean; centered?: boolean };
}

export interface NativeNode {
  op: 'input' | 'dense' | 'conv2d' | 'maxpool' | 'avgpool' | 'gap' | 'reshape' | 'dropout' | 'batchnorm' | 'activation' | 'embedding' | 'add' | 'concat';
  inputs: number[];
  shape: number[];
  act?: string;
  kernel?: number;
  bias?: number;
  gamma?: number;
  beta?: number;
  movingMean?: number;
  movingVar?: number;
  units?: number;
  rate?: number;
  epsilon?: number;
  momentum?: number;
  vocab?: number;
  conv?: { h: number; w: number; cin: number; kh: number; kw: number; sh: number; sw: number; padTop: number; padLeft: number; oh: number; ow: number; cout: number };
  pool?: { h: number; w: number; c: number; ph: number; pw: number; sh: number; sw: number; padTop: number; padLeft: number; oh: number; ow: number };
}

export interface TrainChunk {
  /** steps × width: each step's mean loss, then each metric's mean. */
  values: Float64Array;
  rows: Int32Array;
  steps: number;
  width: number;
  aborted: boolean;
}

export interface NativeSession {
  setParam(i: number, values: Float32Array): void;
  getParam(i: number): Float32Array;
  setSlot(i: number, slot: number, values: Float32Array): void;
  getSlot(i: number, slot: number): Float32Array;
  setOptScalars(iterations: number, accBeta1: number, accBeta2: number): void;
  getOptScalars(): [number, number, number];
  setSplit(which: 0 | 1 | 2, xs: Float32Array, ys: Float32Array, rows: number): void;
  /** masks: tfjs's dropout multipliers for these steps (see dropout-masks.ts); without them dropout uses its own seeded stream. */
  train(order: Int32Array, start: number, steps: number, batchSize: number, seed: number, stepBase: number, masks?: Float32Array): Promise<TrainChunk>;
  evaluate(which: 0 | 1 | 2, batchSize: number): Promise<Float64Array>;
  predict(xs: Float32Array, rows: number, training?: boolean): Float32Array;
  gradients(xs: Float32Array, ys: Float32Array, rows: number): { loss: number; grads: (Float32Array | null)[] };
  applyGradients(grads: (Float32Array | null)[]): void;
  abort(): void;
  threads(): number;
  /** Frees the buffers and data now rather than at garbage collection. */
  release(): void;
}

export interface NativeAddon {
  Session: new (plan: NativePlan, threads: number) => NativeSession;
  isa: string;
  hardwareThreads: number;
}

const root = fileURLToPath(new URL('..', import.meta.url));
let loaded: { addon: NativeAddon } | { reason: string } | undefined;

function load(): { addon: NativeAddon } | { reason: string } {
  const status = `${root}build/status.json`;
  const file = `${root}build/Release/cairn_native.node`;
  if (existsSync(status)) {
    try {
      const s = JSON.parse(readFileSync(status, 'utf8')) as { ok: boolean; reason?: string };
      if (!s.ok) return { reason: s.reason ?? 'the build failed' };
    } catch {
      // A torn status file: try the addon itself.
    }
  }
  if (!existsSync(file)) return { reason: `the addon was never built (run \`npm run build -w @cairn/native\`; ${file} is missing)` };
  try {
    return { addon: createRequire(import.meta.url)(file) as NativeAddon };
  } catch (e) {
    return { reason: `the addon did not load: ${(e as Error).message}` };
  }
}

/** Why the addon cannot be used here, or null when it can. */
export function nativeUnavailableReason(): string | null {
  loaded ??= load();
  return 'reason' in loaded ? loaded.reason : null;
}

export function loadAddon(): NativeAddon {
  loaded ??= load();
  if ('reason' in loaded) throw new NativeUnavailableError(loaded.reason);
  return loaded.addon;
}

/**
 * Threads for a session: `cap` (CAIRN_THREADS, as the app read it) caps them; the
 * default is every core this process may use.
 */
export function threadCount(cap?: number): number {
  const cores = Math.max(1, os.availableParallelism());
  if (cap === undefined) return cores;
  if (!Number.isInteger(cap) || cap < 1) throw new CairnError('INVALID_INPUT', `CAIRN_THREADS must be a positive integer, got '${cap}'`);
  return Math.min(cap, 1024);
}
