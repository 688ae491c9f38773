import { ValidationError, isUuid } from '@cairn/schema';
import type { Store } from '@cairn/store';
import type { TierQueues } from './queues.ts';

/** The job states a queue listing shows (waiting includes prioritized jobs). */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface QueueJob {
  runId: string;
  /** Null when the job names a run the store does not have. */
  runName: string | null;
  tier: string;
  state: JobState;
  progress?: number | object;
  /** Attempts made so far. */
  attempts: number;
  enqueuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  failedReason: string | null;
}

export interface ListQueueJobsOptions {
  /** The runs the caller may see, of those ids (default: all): the others' jobs are left out. */
  visible?: (runIds: string[]) => Promise<ReadonlySet<string>>;
  /** Wraps the Redis read (the API bounds it with a deadline, as Redis may be away). */
  redis?: <T>(read: Promise<T>) => Promise<T>;
}

/** A tier's name in a queue name (`<prefix>-<tier>`). */
export function tierOfQueue(queues: TierQueues, queueName: string): string {
  const prefix = `${queues.prefix}-`;
  return queueName.startsWith(prefix) ? queueName.slice(prefix.length) : queueName;
}

/**
 * The jobs of one tier's queue in one state, up to `limit`, with their runs' names:
 * waiting work oldest first (the order it will run in), finished work newest first. A job
 * whose run is not visible is left out. A ValidationError names the tiers when `tier` is
 * none of them.
 */
export async function listQueueJobs(
  deps: { queues: TierQueues; store: Store },
  input: { tier: string; state: JobState; limit: number },
  options: ListQueueJobsOptions = {},
): Promise<QueueJob[]> {
  const { queues, store } = deps;
  const queue = queues.all().find((x) => tierOfQueue(queues, x.name) === input.tier);
  if (!queue) throw new ValidationError(`unknown tier '${input.tier}' (${queues.all().map((x) => tierOfQueue(queues, x.name)).join(', ')})`);
  const types = input.state === 'waiting' ? (['waiting', 'prioritized'] as const) : ([input.state] as const);
  const asc = input.state === 'waiting' || input.state === 'delayed' || input.state === 'active';
  const read = queue.getJobs([...types], 0, input.limit - 1, asc);
  const jobs = (await (options.redis ? options.redis(read) : read)).filter(Boolean);
  const runIds = jobs.map((j) => String(j.data?.runId ?? j.id)).filter(isUuid).map((id) => id.toLowerCase());
  const readable = options.visible ? await options.visible(runIds) : new Set(runIds);
  const heads = new Map((await store.getRunHeads([...readable])).map((r) => [r.id, r]));
  return jobs.flatMap((j): QueueJob[] => {
    const runId = String(j.data?.runId ?? j.id).toLowerCase();
    if (!readable.has(runId)) return [];
    return [
      {
        runId,
        runName: heads.get(runId)?.name ?? null,
        tier: input.tier,
        state: input.state,
        ...(typeof j.progress === 'number' || (typeof j.progress === 'object' && j.progress !== null) ? { progress: j.progress as number | object } : {}),
        attempts: j.attemptsMade,
        enqueuedAt: new Date(j.timestamp),
        startedAt: j.processedOn ? new Date(j.processedOn) : null,
        finishedAt: j.finishedOn ? new Date(j.finishedOn) : null,
        failedReason: j.failedReason || null,
      },
    ];
  });
}
