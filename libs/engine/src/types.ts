import type { Optimizer, Tensor } from '@tensorflow/tfjs-core';
import type { Dataset } from '@tensorflow/tfjs-data';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { z } from 'zod';
import type { Objective } from '@cairn/schema';

import type { Tier } from './tiers.ts';

export { TIERS, type Tier } from './tiers.ts';

/** tfjs backends, best first. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** One batch: features and targets (a type alias, so it satisfies tfjs's TensorContainer). */
export type Batch = {
  xs: Tensor;
  ys: Tensor;
};

/**
 * A split held as two tensors (rows on axis 0); the trainer shuffles and batches it with
 * the run's seed. Or a tf.data pipeline that yields batches already: it must be
 * deterministic itself (shuffle with a seed) for a run to be reproducible.
 */
export type Split = { xs: Tensor; ys: Tensor } | Dataset<Batch>;

/** What the model needs to know about the data. */
export interface DataInfo {
  /** Shape of one example, without the batch axis. */
  inputShape: number[];
  /** Number of classes for a classifier; label names in `classes` when known. */
  numClasses?: number;
  classes?: string[];
  /** Examples per split. */
  counts: { train: number; validation?: number; test?: number };
  /** Anything else a definition wants to pass from data() to model(). */
  [key: string]: unknown;
}

export interface TrainingData {
  train: Split;
  validation?: Split;
  test?: Split;
  info: DataInfo;
}

/** Per-tier settings a definition gives; the tier's defaults fill what it leaves out. */
export interface TierSettings {
  /** Fraction of records (0, 1] picked by hashing record ids (a deterministic subset). */
  subset?: number;
  epochs?: number;
  /** Wall-clock budget for the fit; the run is abandoned when it is spent. */
  timeBudgetMs?: number;
  /** Early-abandon policies, by spec (see policies). */
  policies?: PolicySpec[];
}

export interface DataContext<P> {
  /** The folder holding the data (a snapshot checkout or a plain folder). */
  dir: string;
  /** The snapshot the folder was checked out from, when known. */
  snapshotId?: string;
  tier: Tier;
  /** The tier's subset fraction (1 = all records). */
  subset: number;
  /** The run's seed: use it for any shuffle or split. */
  seed: number;
  params: P;
}

export type { Objective };

export interface CompileSpec {
  optimizer: Optimizer | string;
  loss: string | string[];
  metrics?: string[];
}

/**
 * A training definition: what `cairn run train.ts` loads. `params` is a zod object whose
 * fields carry their defaults; `epochs` and `batchSize` params, when present, drive the
 * fit (the tier's epochs override `epochs`).
 */
export interface TrainingDefinition<S extends z.ZodType<Record<string, unknown>> = z.ZodType<Record<string, unknown>>> {
  name: string;
  params: S;
  data(ctx: DataContext<z.infer<S>>): Promise<TrainingData> | TrainingData;
  model(params: z.infer<S>, info: DataInfo): LayersModel;
  compile(params: z.infer<S>): CompileSpec;
  objective: Objective;
  tiers?: Partial<Record<Tier, TierSettings>>;
}

/** Policy specs as definitions, tiers and sweeps name them (plain data, so they can be queued). */
export type PolicySpec =
  | { kind: 'nan' }
  | { kind: 'time-budget'; ms: number }
  | { kind: 'plateau'; patience: number; minDelta?: number }
  | { kind: 'trend'; window: number; minSlope?: number }
  | { kind: 'median'; minEvaluations?: number }
  | { kind: 'bandit'; slack: number; minEvaluations?: number };

/** One evaluation of the objective during a fit. */
export interface Evaluation {
  step: number;
  epoch: number;
  elapsedMs: number;
  /** The objective's value (NaN when the metric was NaN). */
  value: number;
  metrics: Record<string, number>;
}

/** An earlier run of the same definition: its objective at each evaluated step. */
export interface PeerCurve {
  runId: string;
  points: { step: number; value: number }[];
}

export interface PolicyContext {
  direction: Objective['direction'];
  /** Evaluations so far, oldest first; the last one is the newest. */
  history: Evaluation[];
  /** Earlier runs, for median stopping and bandit. */
  peers: PeerCurve[];
  elapsedMs: number;
}

/**
 * Truncation selection, a sweep's policy: it ranks a trial against its sibling trials, so
 * the sweep runner builds it (not createPolicy) and hands it to runTraining through
 * `extraPolicies`.
 */
export type TruncationSpec = { kind: 'truncation'; percent: number; minEvaluations?: number };

/** Why a policy ended a run: shown and stored as the run's end reason. */
export interface Verdict {
  policy: PolicySpec['kind'] | TruncationSpec['kind'];
  reason: string;
  /** The numbers behind the decision (e.g. { slope, window }). */
  details: Record<string, number>;
}

export interface Policy {
  readonly spec: PolicySpec | TruncationSpec;
  /** null: keep going. */
  check(ctx: PolicyContext): Verdict | null;
}

/** A metric point as the fit reports it. */
export interface MetricPoint {
  key: string;
  value: number;
  step: number;
}

/**
 * How the engine reports: the tracking client implements it; a no-op one is used in the
 * overhead benchmark. Calls may be buffered by the implementation; the engine never
 * waits on `metrics`.
 */
export interface Reporter {
  metrics(points: MetricPoint[]): void;
  /** A content-addressed artifact (checkpoint, exported model, model card). */
  artifact(a: { path: string; hash: string; size: number; mediaType?: string }): Promise<void> | void;
  /** Free-form facts about the run (backend, why better ones were skipped). */
  environment?(facts: Record<string, unknown>): Promise<void> | void;
}

/** Where checkpoints and exports go: any content-addressed blob store (LocalBlobStore fits). */
export interface ArtifactStore {
  put(bytes: Uint8Array): Promise<string>;
  get(id: string): Promise<Uint8Array>;
}

/** A checkpoint as stored: everything needed to continue a fit exactly where it stopped. */
export interface CheckpointRef {
  /** Blob id of the checkpoint bundle in the ArtifactStore. */
  id: string;
  epoch: number;
  /** Optimizer steps taken so far (batches trained). */
  step: number;
}

export interface TrainerInput {
  model: LayersModel;
  compile: CompileSpec;
  data: TrainingData;
  epochs: number;
  batchSize: number;
  /** Seeds shuffles (and, through runTraining, initialisers and dropout). */
  seed: number;
  objective: Objective;
  policies: Policy[];
  reporter: Reporter;
  /** Earlier runs' objective curves, for median and bandit policies. */
  peers?: PeerCurve[];
  signal?: AbortSignal;
  /** Validate every N optimizer steps as well as at each epoch end (0/absent: epoch ends only). */
  validateEverySteps?: number;
  /** Per-batch metrics are reported every N steps (default 10). */
  batchMetricsEvery?: number;
  /** Checkpoints: where, and how often (every N epochs and/or every N ms). */
  checkpoints?: { store: ArtifactStore; everyEpochs?: number; everyMs?: number };
  /** Continue from this checkpoint (same model architecture, data, seed). */
  resumeFrom?: CheckpointRef;
  /** Called after each batch (progress bars); cheap, synchronous. */
  onBatch?: (p: { epoch: number; epochs: number; step: number; stepsPerEpoch: number; loss: number; examplesPerSec: number }) => void;
}

export type EndStatus = 'finished' | 'abandoned' | 'cancelled' | 'failed';

export interface TrainResult {
  status: EndStatus;
  /** Why it ended when not finished (a policy's reason, the abort reason, the error). */
  reason?: string;
  verdict?: Verdict;
  /** Final metrics: last epoch's train/validation metrics and test_* when a test split exists. */
  metrics: Record<string, number>;
  epochs: number;
  steps: number;
  /** Best objective value seen and the step it was seen at. */
  best?: { value: number; step: number };
  lastCheckpoint?: CheckpointRef;
  elapsedMs: number;
}

/**
 * The training loop behind every caller. tfjs's layers API is one implementation; a
 * native core that runs a whole forward/backward/optimizer step per call must drop in
 * behind the same interface.
 */
export interface Trainer {
  readonly name: string;
  train(input: TrainerInput): Promise<TrainResult>;
}
