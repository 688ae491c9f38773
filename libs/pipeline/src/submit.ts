import path from 'node:path';
import { NotFoundError, ValidationError } from '@cairn/schema';
import { loadDefinition, resolveParams, type Tier } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { Run, Store } from '@cairn/store';
import { gitState } from '@cairn/tracking';
import { bundleTraining } from './bundle.ts';
import type { TierQueues } from './queues.ts';
import { recordObjective } from './objective-tag.ts';

export interface SubmitOptions {
  store: Store;
  blobs: LocalBlobStore;
  queues: TierQueues;
  /** The training module (TypeScript is fine: it is loaded to check it, then bundled). */
  file: string;
  tier: Tier;
  params?: Record<string, unknown>;
  /** A dataset name resolves to its newest snapshot now, at submit time. */
  dataset?: string;
  snapshot?: string;
  experiment?: string;
  parentRunId?: string;
  tags?: Record<string, string>;
  /** BullMQ job options from the tier's config. */
  job?: { priority?: number; attempts?: number; backoffMs?: number; strategy?: 'fixed' | 'exponential' };
}

export interface Submitted {
  runId: string;
  codeHash: string;
  snapshotId: string;
  params: Record<string, unknown>;
}

/** Params as the store records them (numbers and booleans typed, the rest as JSON text). */
export function storedParams(params: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  return out;
}

/** BullMQ job options from the tier's job settings (as SubmitOptions names them). */
export type JobSettings = NonNullable<SubmitOptions['job']>;

export function bullJobOptions(job: JobSettings = {}): { priority?: number; attempts?: number; backoff?: { type: 'fixed' | 'exponential'; delay: number } } {
  return {
    ...(job.priority !== undefined ? { priority: job.priority } : {}),
    ...(job.attempts !== undefined ? { attempts: job.attempts } : {}),
    ...(job.backoffMs !== undefined ? { backoff: { type: job.strategy ?? 'exponential', delay: job.backoffMs } } : {}),
  };
}

/** The snapshot a queued run trains on: the one named, else the dataset's newest, pinned now. */
export async function pinSnapshot(store: Store, o: { dataset?: string | undefined; snapshot?: string | undefined }): Promise<string> {
  if (o.snapshot) return store.resolveSnapshotId(o.snapshot);
  if (o.dataset) {
    const latest = await store.latestSnapshot(o.dataset);
    if (!latest) throw new NotFoundError('snapshot of dataset', o.dataset);
    return latest.id;
  }
  throw new ValidationError('a queued run needs its data pinned: give a dataset or a snapshot');
}

/** Bundles a training module into the blob store: its content id, and the git state of its folder. */
export async function storeCodeBundle(blobs: LocalBlobStore, file: string, dir = path.dirname(path.resolve(file))): Promise<{ codeHash: string; gitSha: string | null; gitDirty: boolean | null }> {
  // git's answer takes as long as the bundle: ask both at once.
  const [codeHash, git] = await Promise.all([bundleTraining(file).then((bundle) => blobs.put(bundle)), gitState(dir)]);
  return { codeHash, gitSha: git.sha, gitDirty: git.dirty };
}

export interface QueuedRunInput {
  store: Store;
  queues: TierQueues;
  experimentId: string;
  tier: Tier;
  code: { gitSha: string | null; gitDirty: boolean | null; codeHash: string };
  snapshotIds: string[];
  /** Params as the store records them (see storedParams). */
  params: Record<string, string | number | boolean>;
  tags: Record<string, string>;
  name?: string;
  parentRunId?: string;
  job?: JobSettings;
}

/** Creates a run `queued` with its code bundle, snapshot and params, then enqueues its id (the job id). */
export async function createQueuedRun(i: QueuedRunInput): Promise<Run> {
  const run = await i.store.createRun({
    experimentId: i.experimentId,
    status: 'queued',
    tier: i.tier,
    ...(i.name ? { name: i.name } : {}),
    ...(i.parentRunId ? { parentRunId: i.parentRunId } : {}),
    code: i.code,
    snapshotIds: i.snapshotIds,
    params: i.params,
    tags: i.tags,
    // The queue prefix it goes to: a worker of that prefix queues it again if Redis loses the job.
    queuePrefix: i.queues.prefix,
  });
  await i.queues.enqueue(i.tier, run.id, bullJobOptions(i.job));
  return run;
}

/**
 * Queues a training run: checks the module and its params here (a bad submission never
 * reaches a worker), bundles the code into a content-addressed blob, pins the data to a
 * snapshot id, creates the run as `queued` with all of that, then enqueues its id.
 */
export async function submitRun(o: SubmitOptions): Promise<Submitted> {
  const loaded = await loadDefinition(o.file);
  const params = resolveParams(loaded.definition, o.params ?? {});
  // Independent, so at once: the data pin and the code bundle (with git state). Nothing is
  // created in the store until both are known good.
  const [snapshotId, code] = await Promise.all([pinSnapshot(o.store, o), storeCodeBundle(o.blobs, o.file, path.dirname(loaded.path))]);
  const experiment = await o.store.ensureExperiment({ name: o.experiment ?? loaded.definition.name });
  await recordObjective(o.store, experiment, loaded.definition.objective);
  const run = await createQueuedRun({
    store: o.store,
    queues: o.queues,
    experimentId: experiment.id,
    tier: o.tier,
    ...(o.parentRunId ? { parentRunId: o.parentRunId } : {}),
    code,
    snapshotIds: [snapshotId],
    params: storedParams(params),
    tags: { definition: loaded.definition.name, module: path.relative(process.cwd(), loaded.path), ...(o.tags ?? {}) },
    ...(o.job ? { job: o.job } : {}),
  });
  return { runId: run.id, codeHash: code.codeHash, snapshotId, params };
}
