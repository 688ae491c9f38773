import type { Tier } from '@cairn/engine';
import type { Run, Store } from '@cairn/store';
import type { TierQueues } from './queues.ts';

/*
 * Queuing a run whose code bundle and snapshot are already in place (a resubmission, a
 * sweep's trial, a submitted module once bundled). No training engine here, so the
 * queues entry can queue runs.
 */

/** A tier's job settings, as the config writes them: BullMQ options come from them. */
export interface JobSettings {
  priority?: number;
  attempts?: number;
  backoffMs?: number;
  strategy?: 'fixed' | 'exponential';
}

/** Params as the store records them (numbers and booleans typed, the rest as JSON text). */
export function storedParams(params: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  return out;
}

/** BullMQ job options from the tier's job settings. */
export function bullJobOptions(job: JobSettings = {}): { priority?: number; attempts?: number; backoff?: { type: 'fixed' | 'exponential'; delay: number } } {
  return {
    ...(job.priority !== undefined ? { priority: job.priority } : {}),
    ...(job.attempts !== undefined ? { attempts: job.attempts } : {}),
    ...(job.backoffMs !== undefined ? { backoff: { type: job.strategy ?? 'exponential', delay: job.backoffMs } } : {}),
  };
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
