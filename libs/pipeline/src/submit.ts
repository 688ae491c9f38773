import path from 'node:path';
import { NotFoundError, ValidationError } from '@cairn/schema';
import { loadDefinition, resolveParams, type Tier } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { Store } from '@cairn/store';
import { gitState } from '@cairn/tracking';
import { bundleTraining } from './bundle.ts';
import type { TierQueues } from './queues.ts';
import { createQueuedRun, storedParams, type JobSettings } from './queued-run.ts';
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
  job?: JobSettings;
}

export interface Submitted {
  runId: string;
  codeHash: string;
  snapshotId: string;
  params: Record<string, unknown>;
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
