import { createPolicies, loadDefinition, loadTrainerModules, runTraining, type ArtifactStore, type BackendName, type CheckpointRef, type ConfiguredTraining, type Objective, type PeerCurve, type Policy, type PolicySpec, type Reporter, type RunOutcome, type Tier, type TruncationSpec } from '@cairn/engine';
import { definitionForTier, type PipelineConfig } from './config/index.ts';
import { truncationPolicy } from './sweep-runner/truncation-policy.ts';

/**
 * The modules whose trainers a run may use, best first by their own rank: Cairn's native
 * core. Named, not imported: a process without it (not installed, addon not built) trains
 * on tfjs and its runs say why.
 */
export const TRAINER_MODULES: readonly string[] = ['@cairn/native'];

/**
 * Everything a worker's training needs, as plain data: it crosses to the training
 * thread by structured clone, so no functions, stores or signals (those are the hooks).
 */
export interface TrainingJob {
  /** The run's code bundle in the code cache. */
  definitionFile: string;
  config: PipelineConfig;
  tier: Tier;
  /** A sweep's objective, over the definition's. */
  objective?: Objective;
  params: Record<string, unknown>;
  dataDir: string;
  snapshotId: string;
  evaluateTest: boolean;
  backend?: BackendName;
  /** Force a trainer by name (default: `configured.trainer`, else the best registered one that supports the model). */
  trainer?: string;
  /** What the worker's app read from its environment (CAIRN_TRAINER, CAIRN_BACKEND, CAIRN_THREADS). */
  configured?: ConfiguredTraining;
  /** Modules whose trainers are registered before the run (default TRAINER_MODULES; [] for tfjs only). */
  trainerModules?: string[];
  checkpointEveryEpochs: number;
  resumeFrom?: CheckpointRef;
  /** A sweep's policies: specs, truncation among them (built where the training runs). */
  policies?: PolicySpec[];
  extraPolicies?: (PolicySpec | TruncationSpec)[];
  peers?: PeerCurve[];
  code: { path: string; hash: string };
  /** Report the stages and this many first steps through `onProgress` (the lock guard checks at each). */
  reportSteps: number;
}

export interface TrainingHooks {
  reporter: Reporter;
  /** Checkpoints and the exported model. */
  store: ArtifactStore;
  signal?: AbortSignal;
  /** At each stage of the run's start (data, backend, model, train) and after each of its first `reportSteps` steps. */
  onProgress?: () => void;
}

/** How a job's training went: its outcome and objective, or the module that would not load. */
export type TrainingJobResult = { outcome: RunOutcome; objective: Objective } | { loadError: string };

/**
 * Loads the run's training module and trains it with the tier's settings. The same code
 * runs in the training thread and, with `--train-in main`, on the worker's own loop.
 */
export async function runTrainingJob(job: TrainingJob, hooks: TrainingHooks): Promise<TrainingJobResult> {
  // Imported here, in the thread that trains: the registry is per thread.
  await loadTrainerModules(job.trainerModules ?? TRAINER_MODULES);
  let loaded;
  try {
    loaded = await loadDefinition(job.definitionFile);
  } catch (e) {
    return { loadError: (e as Error).message };
  }
  // The operator's tier settings under the definition's own (config.ts says how they combine).
  const tiered = definitionForTier(loaded.definition, job.config, job.tier);
  const definition = job.objective ? { ...tiered, objective: { ...tiered.objective, ...job.objective } } : tiered;
  let seen = 0;
  const outcome = await runTraining({
    definition,
    params: job.params,
    dataDir: job.dataDir,
    snapshotId: job.snapshotId,
    tier: job.tier,
    evaluateTest: job.evaluateTest,
    ...(job.backend ? { backend: job.backend } : {}),
    ...(job.trainer ? { trainerName: job.trainer } : {}),
    ...(job.configured ? { configured: job.configured } : {}),
    reporter: hooks.reporter,
    store: hooks.store,
    checkpointEveryEpochs: job.checkpointEveryEpochs,
    ...(job.resumeFrom ? { resumeFrom: job.resumeFrom } : {}),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...(job.policies ? { policies: job.policies } : {}),
    ...(job.extraPolicies ? { extraPolicies: job.extraPolicies.map((p) => policyOf(p, definition.objective.metric)) } : {}),
    ...(job.peers ? { peers: job.peers } : {}),
    code: job.code,
    ...(hooks.onProgress && job.reportSteps > 0 ? { onStage: () => hooks.onProgress!(), onBatch: () => void (++seen <= job.reportSteps && hooks.onProgress!()) } : {}),
  });
  return { outcome, objective: definition.objective };
}

function policyOf(spec: PolicySpec | TruncationSpec, metric: string): Policy {
  return spec.kind === 'truncation' ? truncationPolicy(spec, metric) : createPolicies([spec], { metric })[0]!;
}
