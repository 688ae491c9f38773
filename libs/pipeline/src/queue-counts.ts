import { tierOfQueue } from './queue-jobs.ts';
import type { TierQueues } from './queues.ts';

export interface TierCounts {
  tier: string;
  /** Jobs waiting for a worker, prioritized ones included (every tier's jobs carry a priority). */
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  /** Waiting jobs held because the tier's queue is paused (BullMQ keeps no separate count). */
  paused: number;
}

/** How many jobs each tier's queue holds, by state, as the portal's queue page shows them. */
export async function countQueueJobs(tierQueues: TierQueues): Promise<TierCounts[]> {
  return Promise.all(
    tierQueues.all().map(async (queue): Promise<TierCounts> => {
      const [c, paused] = await Promise.all([queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'), queue.isPaused()]);
      const n = (k: string) => c[k] ?? 0;
      const waiting = n('waiting') + n('prioritized');
      return { tier: tierOfQueue(tierQueues, queue.name), waiting, active: n('active'), delayed: n('delayed'), completed: n('completed'), failed: n('failed'), paused: paused ? waiting : 0 };
    }),
  );
}
