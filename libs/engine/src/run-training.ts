import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is always present: data, the kernel probe and the fallback run on it.
import '@tensorflow/tfjs-backend-cpu';
import { LayersModel as TfLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { checkOneTfjs } from './tfjs/peers.ts';
import { CairnError, ValidationError } from '@cairn/schema';
import { parseBackendName, releaseBackend, requiredKernels, selectBackend, type BackendChoice } from './backends.ts';
import { sampleSplit } from './data/pipeline.ts';
import { exportModel, type ExportedFile } from './export.ts';
import { TFJS_TRAINER, parseTrainerName, selectTrainer, type TrainerChoice } from './trainers.ts';
import { createPolicies } from './policies/index.ts';
import { Rng, seedMathRandom } from './random.ts';
import { TIERS, type ArtifactStore, type BackendName, type CheckpointRef, type DataInfo, type PeerCurve, type Policy, type PolicySpec, type Reporter, type Tier, type TierSettings, type Trainer, type TrainerInput, type TrainingData, type TrainingDefinition, type TrainResult } from './types.ts';

/** What a tier means when a definition says nothing about it. */
export const TIER_DEFAULTS: Record<Tier, Required<Pick<TierSettings, 'subset'>> & TierSettings> = {
  ci: { subset: 0.05, epochs: 1 },
  extended: { subset: 0.25, timeBudgetMs: 30 * 60_000, policies: [{ kind: 'trend', window: 5 }] },
  nightly: { subset: 1 },
  weekly: { subset: 1 },
};

/** The trainer and backend an app's environment asks for (CAIRN_TRAINER, CAIRN_BACKEND, CAIRN_THREADS), as read by the app. */
export interface ConfiguredTraining {
  trainer?: string;
  backend?: string;
  /** CAIRN_THREADS: the most threads a native trainer may use. */
  threads?: number;
}

export interface RunTrainingOptions {
  definition: TrainingDefinition;
  /** Raw params (e.g. parsed from `--param k=v`); the definition's schema validates them and fills defaults. */
  params?: Record<string, unknown>;
  /** The folder holding the data. */
  dataDir: string;
  snapshotId?: string;
  /** Without a tier: all records, the params' epochs. */
  tier?: Tier;
  /** The operator's settings for the tier (cairn.config.ts), in place of TIER_DEFAULTS; the definition's own tier settings still apply on top. */
  tierSettings?: TierSettings;
  /** Default: params.seed, else 0. */
  seed?: number;
  /** Default: `configured.backend`, else the best usable one. */
  backend?: BackendName;
  reporter: Reporter;
  /** Where checkpoints and the exported model go; without it neither is written. */
  store?: ArtifactStore;
  checkpointEveryEpochs?: number;
  checkpointEveryMs?: number;
  /** false: leave the test split alone (cheap tiers must not tune against it). Default true. */
  evaluateTest?: boolean;
  /** Validate every N optimizer steps as well as at each epoch end. */
  validateEverySteps?: number;
  resumeFrom?: CheckpointRef;
  /** Policies on top of the tier's (the NaN guard is always on). */
  policies?: PolicySpec[];
  /** Policy objects built by the caller (a sweep's truncation selection), checked after all the others. */
  extraPolicies?: Policy[];
  peers?: PeerCurve[];
  signal?: AbortSignal;
  /** A trainer object to use as is, bypassing the registry (benchmarks, tests). */
  trainer?: Trainer;
  /**
   * Force a registered trainer by name ('native-cpu', 'tfjs', ...). Default:
   * `configured.trainer`, else the best registered trainer that supports the model; a
   * forced tfjs backend (`backend`, `configured.backend`) means the tfjs trainer.
   */
  trainerName?: string;
  /**
   * What the app read from its environment (CAIRN_TRAINER, CAIRN_BACKEND; libs read none),
   * weaker than `trainerName` and `backend` and recorded as forced by that variable.
   */
  configured?: ConfiguredTraining;
  /** The training module's path and content hash, for the model card. */
  code?: { path: string; hash?: string };
  onBatch?: TrainerInput['onBatch'];
  /** Called as the run moves through its stages (for a CLI's status line). */
  onStage?: (stage: 'params' | 'data' | 'backend' | 'model' | 'train' | 'export', detail?: string) => void;
}

export interface RunOutcome {
  result: TrainResult;
  /** Validated params with defaults (absent when they did not validate). */
  params?: Record<string, unknown>;
  backend?: BackendChoice;
  /** Which trainer ran the fit, and why better ones were skipped. */
  trainer?: TrainerChoice;
  settings?: { tier?: Tier; subset: number; epochs: number; batchSize: number; seed: number };
  exported: ExportedFile[];
}

/**
 * One training run, start to end: validate params, load data, pick the backend (checking
 * that it has every kernel the model's training step needs), build the model with seeded
 * initialisers, fit, export. Problems in the definition, data or model end the run
 * `failed` with a reason instead of throwing, so a caller always has an outcome to record;
 * what was reported before the failure stays reported.
 */
export async function runTraining(options: RunTrainingOptions): Promise<RunOutcome> {
  const started = performance.now();
  const failed = (e: unknown, partial: Partial<RunOutcome> = {}): RunOutcome => ({
    result: { status: e instanceof RunStopped ? e.status : 'failed', reason: reasonOf(e), metrics: {}, epochs: 0, steps: 0, elapsedMs: performance.now() - started },
    exported: [],
    ...partial,
  });
  const def = options.definition;
  const stage = options.onStage ?? (() => undefined);

  stage('params');
  let params: Record<string, unknown>;
  try {
    params = resolveParams(def, options.params ?? {});
  } catch (e) {
    return failed(e);
  }
  const tierSettings: TierSettings & { subset: number } = options.tier ? { ...TIER_DEFAULTS[options.tier], ...options.tierSettings, ...def.tiers?.[options.tier] } : { subset: 1 };
  const seed = options.seed ?? (typeof params.seed === 'number' ? params.seed : 0);
  const epochs = tierSettings.epochs ?? (typeof params.epochs === 'number' ? params.epochs : 10);
  const batchSize = typeof params.batchSize === 'number' ? params.batchSize : 32;
  const settings = { ...(options.tier ? { tier: options.tier } : {}), subset: tierSettings.subset, epochs, batchSize, seed };

  let data: TrainingData | undefined;
  let model: LayersModel | undefined;
  let backend: BackendChoice | undefined;
  let trainerChoice: TrainerChoice | undefined;
  let trainer: Trainer | undefined;
  // Optimizer objects a definition created: a model only disposes optimizers it made from a name.
  const compiled: { optimizer: unknown }[] = [];
  try {
    stage('data', options.dataDir);
    // Data and the kernel probe live on the always-complete cpu backend; tensors move to
    // the chosen backend on first use.
    await tf.setBackend('cpu');
    data = await untilAborted(def.data({ dir: options.dataDir, ...(options.snapshotId ? { snapshotId: options.snapshotId } : {}), tier: options.tier ?? 'nightly', subset: tierSettings.subset, seed, params }), options.signal, tierSettings.timeBudgetMs);
    checkData(data);
    if (options.evaluateTest === false && data.test) {
      const { test, ...rest } = data;
      disposeData({ train: test, info: data.info });
      data = rest;
    }

    stage('backend');
    const compile = def.compile(params);
    compiled.push(compile);
    const sample = await sampleSplit(data.train, 2);
    // Which kernels one training step needs, and which trainer can run it.
    const probe = build(def, params, data.info, seed);
    let kernels: string[];
    try {
      checkModel(probe, data);
      kernels = await requiredKernels(probe, sample, compile);
      if (options.trainer) {
        trainer = options.trainer;
        trainerChoice = { name: trainer.name, reason: 'given by the caller', forcedBy: 'option', skipped: [] };
      } else {
        // Forcing a tfjs backend asks for the tfjs trainer, unless a trainer is forced too.
        const configured = options.configured ?? {};
        const backendForced = options.backend ?? (configured.backend !== undefined ? parseBackendName(configured.backend, 'CAIRN_BACKEND') : undefined);
        const trainerConfigured = configured.trainer !== undefined ? parseTrainerName(configured.trainer, 'CAIRN_TRAINER') : undefined;
        const force = options.trainerName ?? (trainerConfigured ? undefined : backendForced ? TFJS_TRAINER : undefined);
        const picked = selectTrainer({ model: probe, compile, data, batchSize }, force ? { force } : { configured: trainerConfigured });
        trainer = picked.provider.create(configured.threads !== undefined ? { threads: configured.threads } : {});
        trainerChoice = picked.choice;
      }
    } finally {
      probe.dispose();
    }
    if (trainerChoice.name === TFJS_TRAINER || options.trainer) {
      backend = await selectBackend({ ...(options.backend ? { force: options.backend } : { configured: options.configured?.backend }), requiredKernels: kernels });
    } else {
      // A native trainer runs the fit; tfjs only holds the weights it hands back (for
      // checkpoints and export), so the always-complete cpu backend is enough.
      const cpu = await selectBackend({ force: 'cpu', requiredKernels: kernels });
      backend = { ...cpu, reason: `holds the weights ${trainerChoice.name} trains`, forcedBy: null };
    }
    tf.dispose([sample.xs, sample.ys]);
    await options.reporter.environment?.({
      tfjsBackend: backend.name,
      tfjsBackendsSkipped: backend.skipped,
      tfjsVersion: tf.version_core,
      trainer: trainerChoice.name,
      trainerReason: trainerChoice.reason,
      ...(trainerChoice.detail ? { trainerDetail: trainerChoice.detail } : {}),
      trainersSkipped: trainerChoice.skipped,
    });

    stage('model', backend.name);
    model = build(def, params, data.info, seed);
    checkModel(model, data);

    stage('train');
    const policies = createPolicies([{ kind: 'nan' }, ...(tierSettings.timeBudgetMs ? [{ kind: 'time-budget' as const, ms: tierSettings.timeBudgetMs }] : []), ...(tierSettings.policies ?? []), ...(options.policies ?? [])], { metric: def.objective.metric }).concat(options.extraPolicies ?? []);
    const fitCompile = def.compile(params);
    compiled.push(fitCompile);
    const result = await trainer.train({
      model,
      compile: fitCompile,
      data,
      epochs,
      batchSize,
      seed,
      objective: def.objective,
      policies,
      reporter: options.reporter,
      ...(options.peers ? { peers: options.peers } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.store ? { checkpoints: { store: options.store, ...(options.checkpointEveryEpochs ? { everyEpochs: options.checkpointEveryEpochs } : {}), ...(options.checkpointEveryMs ? { everyMs: options.checkpointEveryMs } : {}) } } : {}),
      ...(options.resumeFrom ? { resumeFrom: options.resumeFrom } : {}),
      ...(options.validateEverySteps ? { validateEverySteps: options.validateEverySteps } : {}),
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });

    const exported: ExportedFile[] = [];
    if (result.status === 'finished' && options.store) {
      stage('export');
      const files = await exportModel(model, options.store, {
        name: def.name,
        params,
        ...(options.snapshotId ? { snapshotId: options.snapshotId } : {}),
        dataDir: options.dataDir,
        metrics: result.metrics,
        objective: { ...def.objective, ...(result.best ? { best: result.best.value } : {}) },
        backend: backend.name,
        ...(options.code ? { code: options.code } : {}),
        seed,
        ...(options.tier ? { tier: options.tier } : {}),
        data: { ...data.info },
        createdAt: new Date().toISOString(),
      });
      for (const f of files) await options.reporter.artifact(f);
      exported.push(...files);
    }
    return { result, params, backend, trainer: trainerChoice, settings, exported };
  } catch (e) {
    return failed(e, { params, settings, ...(backend ? { backend } : {}), ...(trainerChoice ? { trainer: trainerChoice } : {}) });
  } finally {
    model?.dispose();
    for (const c of compiled) if (c.optimizer instanceof tf.Optimizer) c.optimizer.dispose();
    if (data) disposeData(data);
    // A webgpu device keeps the process alive; let it go with the run.
    if (backend?.name === 'webgpu') releaseBackend();
  }
}

/** Validates raw params against the definition's schema (defaults filled); a ValidationError lists every problem. */
export function resolveParams(def: TrainingDefinition, raw: Record<string, unknown>): Record<string, unknown> {
  const r = def.params.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'params'}: ${i.message}`);
    throw new ValidationError(`invalid params for ${def.name}: ${problems.join('; ')}`);
  }
  return r.data;
}

/** Builds the model with initialisers drawn from the run's seed. */
function build(def: TrainingDefinition, params: Record<string, unknown>, info: DataInfo, seed: number): LayersModel {
  const restore = seedMathRandom(new Rng(seed));
  try {
    const model = def.model(params, info);
    if (!model || typeof (model as LayersModel).trainOnBatch !== 'function') throw new ValidationError(`model() of ${def.name} did not return a tfjs LayersModel`);
    const copies = checkOneTfjs({ model }, { Tensor: tf.Tensor, LayersModel: TfLayersModel }, def.name);
    if (copies) throw copies;
    return model;
  } finally {
    restore();
  }
}

function shapeOf(t: tf.Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

function checkData(data: TrainingData): void {
  if (!data || !data.train || !data.info) throw new ValidationError('data() must return { train, info } (and optionally validation, test)');
  for (const [name, split] of Object.entries({ train: data.train, validation: data.validation, test: data.test })) {
    if (!split || !('xs' in split) || !(split.xs instanceof tf.Tensor)) continue;
    const { xs, ys } = split as { xs: tf.Tensor; ys: tf.Tensor };
    const copies = checkOneTfjs({ tensors: [xs, ys] }, { Tensor: tf.Tensor, LayersModel: TfLayersModel });
    if (copies) throw copies;
    if (xs.shape[0] !== ys.shape[0]) throw new ValidationError(`data(): the ${name} split has ${xs.shape[0]} feature rows but ${ys.shape[0]} label rows`);
    if (xs.shape[0] === 0) throw new ValidationError(`data(): the ${name} split is empty`);
    if (xs.shape.slice(1).join() !== data.info.inputShape.join()) {
      throw new ValidationError(`data(): ${name} features have shape ${shapeOf(xs)} but info.inputShape is [${data.info.inputShape.join(', ')}]`);
    }
  }
}

function checkModel(model: LayersModel, data: TrainingData): void {
  const input = model.inputs[0]?.shape.slice(1) ?? [];
  if (input.join() !== data.info.inputShape.join()) {
    throw new ValidationError(`model() expects inputs of shape [${input.join(', ')}] but the data gives [${data.info.inputShape.join(', ')}]`);
  }
  const train = data.train;
  if ('ys' in train && train.ys instanceof tf.Tensor) {
    const out = model.outputs[0]?.shape.slice(1) ?? [];
    const ys = train.ys.shape.slice(1);
    if (out.join() !== ys.join()) throw new ValidationError(`model() outputs shape [${out.join(', ')}] but the labels have shape [${ys.join(', ')}] per example`);
  }
}

function disposeData(data: TrainingData): void {
  for (const split of [data.train, data.validation, data.test]) {
    if (split && 'xs' in split && split.xs instanceof tf.Tensor) tf.dispose([split.xs, split.ys as tf.Tensor]);
  }
}

/** Ends a run before its fit with a status other than failed. */
class RunStopped extends CairnError {
  constructor(
    readonly status: 'abandoned' | 'cancelled',
    message: string,
  ) {
    super('INVALID_STATE', message);
  }
}

/** A data() that never settles must not hold the run forever: the signal and the tier's time budget end the wait. */
async function untilAborted<T>(work: Promise<T> | T, signal: AbortSignal | undefined, budgetMs: number | undefined): Promise<T> {
  if (!signal && !budgetMs) return work;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    if (budgetMs) timer = setTimeout(() => reject(new RunStopped('abandoned', `time-budget: data() did not finish within the budget of ${budgetMs} ms`)), budgetMs);
    if (signal) {
      onAbort = () => reject(new RunStopped('cancelled', 'cancelled while data() was loading'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([work, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof CairnError) return e.message;
  if (e instanceof Error) return `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`;
  return String(e);
}

export { TIERS };

/**
 * tfjs prints a banner suggesting tfjs-node the first time the cpu backend stores a
 * tensor; `cairn backends` and the run's environment already say which backends were
 * skipped and why, so a CLI turns it off (PROD mode silences tfjs warnings only).
 */
export function quietTfjs(): void {
  tf.env().set('PROD', true);
}
