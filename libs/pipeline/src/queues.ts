import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Tier } from '@cairn/engine';
import { TIERS } from '@cairn/engine/tiers';

/**
 * What a job carries: the run id and nothing else that could disagree with the store
 * (code, data, params and tier are all on the run).
 */
export interface JobData {
  runId: string;
}

export const DEFAULT_QUEUE_PREFIX = 'cairn';

/** One BullMQ queue per tier, named `<prefix>-<tier>`. */
export function queueName(tier: Tier, prefix = DEFAULT_QUEUE_PREFIX): string {
  return `${prefix}-${tier}`;
}

export class TierQueues {
  private readonly queues = new Map<Tier, Queue<JobData>>();

  constructor(
    readonly connection: Redis,
    readonly prefix = DEFAULT_QUEUE_PREFIX,
  ) {}

  get(tier: Tier): Queue<JobData> {
    let q = this.queues.get(tier);
    if (!q) {
      q = new Queue<JobData>(queueName(tier, this.prefix), { connection: this.connection });
      // Connection errors surface through the awaited calls; unheard, BullMQ prints each one.
      q.on('error', () => undefined);
      this.queues.set(tier, q);
    }
    return q;
  }

  all(): Queue<JobData>[] {
    return TIERS.map((t) => this.get(t));
  }

  /** The job id is the run id, so a run is never queued twice. */
  async enqueue(tier: Tier, runId: string, options: Pick<JobsOptions, 'priority' | 'attempts' | 'backoff'> = {}): Promise<void> {
    await this.get(tier).add('train', { runId }, jobOpts(runId, options));
  }

  /** Many runs in one round trip (BullMQ addBulk), same options each. */
  async enqueueMany(tier: Tier, runIds: readonly string[], options: Pick<JobsOptions, 'priority' | 'attempts' | 'backoff'> = {}): Promise<void> {
    if (runIds.length) await this.get(tier).addBulk(runIds.map((runId) => ({ name: 'train', data: { runId }, opts: jobOpts(runId, options) })));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

function jobOpts(runId: string, options: Pick<JobsOptions, 'priority' | 'attempts' | 'backoff'>): JobsOptions {
  return { jobId: runId, removeOnComplete: 1000, removeOnFail: 5000, ...options };
}
