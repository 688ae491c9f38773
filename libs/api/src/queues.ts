import { DEFAULT_QUEUE_PREFIX, DEFAULT_REDIS_URL, TierQueues, connectRedis, type PipelineConfig } from '@cairn/pipeline/queues';

/**
 * The training queues, for the queue views and cancelling. Built from a TierQueues
 * (its Redis connection and prefix are the ones workers use); without it the API still
 * serves everything else and says the queues are unavailable.
 */
export interface ApiQueues {
  tierQueues: TierQueues;
  /**
   * The tiers' job settings (priority, retries) for runs queued from the API; the
   * defaults when absent (the portal does not read a project's cairn.config.ts).
   */
  config?: PipelineConfig;
  /** How long a queue call may take before it is reported as Redis not answering (default 3 s). */
  timeoutMs?: number;
}

/** Connects to Redis at `url` (the app passes REDIS_URL; default the local one) and opens the tier queues under `prefix` (the app passes CAIRN_QUEUE_PREFIX; default `cairn`). */
export async function connectApiQueues(options: { url?: string; prefix?: string; timeoutMs?: number } = {}): Promise<ApiQueues & { close(): Promise<void> }> {
  const connection = await connectRedis(options.url ?? DEFAULT_REDIS_URL, { timeoutMs: options.timeoutMs ?? 2_000 });
  const tierQueues = new TierQueues(connection, options.prefix ?? DEFAULT_QUEUE_PREFIX);
  return {
    tierQueues,
    timeoutMs: options.timeoutMs,
    async close() {
      await tierQueues.close();
      connection.disconnect();
    },
  };
}
