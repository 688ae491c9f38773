import path from 'node:path';
import { NotFoundError, ValidationError } from '@cairn/schema';
import { loadDefinition, resolveParams, type Tier } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { Store } from '@cairn/store';
import { gitState } from '@cairn/tracking';
import { bundleTraining } from './bundle.ts';
import type { TierQueues } from './queues.ts';

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
  job?: { priority?: number; attempts?: number; backoffMs?: number };
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

/**
 * Queues a training run: checks the module and its params here (a bad submission never
 * reaches a worker), bundles the code into a content-addressed blob, pins the data to a
 * snapshot id, creates the run as `queued` with all of that, then enqueues its id.
 */
export async function submitRun(o: SubmitOptions): Promise<Submitted> {
  const loaded = await loadDefinition(o.file);
  const params = resolveParams(loaded.definition, o.params ?? {});
  let snapshotId: string;
  if (o.snapshot) snapshotId = await o.store.resolveSnapshotId(o.snapshot);
  else if (o.dataset) {
    const latest = await o.store.latestSnapshot(o.dataset);
    if (!latest) throw new NotFoundError('snapshot of dataset', o.dataset);
    snapshotId = latest.id;
  } else throw new ValidationError('a queued run needs its data pinned: give a dataset or a snapshot');

  const bundle = await bundleTraining(o.file);
  const codeHash = await o.blobs.put(bundle);
  const git = await gitState(path.dirname(loaded.path));
  const experiment = await o.store.ensureExperiment({ name: o.experiment ?? loaded.definition.name });
  const run = await o.store.createRun({
    experimentId: experiment.id,
    status: 'queued',
    tier: o.tier,
    ...(o.parentRunId ? { parentRunId: o.parentRunId } : {}),
    code: { gitSha: git.sha, gitDirty: git.dirty, codeHash },
    snapshotIds: [snapshotId],
    params: storedParams(params),
    tags: { definition: loaded.definition.name, module: path.relative(process.cwd(), loaded.path), ...(o.tags ?? {}) },
  });
  await o.queues.enqueue(o.tier, run.id, {
    ...(o.job?.priority !== undefined ? { priority: o.job.priority } : {}),
    ...(o.job?.attempts !== undefined ? { attempts: o.job.attempts } : {}),
    ...(o.job?.backoffMs !== undefined ? { backoff: { type: 'exponential', delay: o.job.backoffMs } } : {}),
  });
  return { runId: run.id, codeHash, snapshotId, params };
}
