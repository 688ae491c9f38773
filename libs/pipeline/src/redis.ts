import { Redis } from 'ioredis';
import { CairnError } from '@cairn/schema';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Redis did not answer: every queue command fails fast with this instead of hanging. */
export class RedisUnavailableError extends CairnError {
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(
      'STORE_UNREACHABLE',
      `Redis at ${redact(url)} is not answering (${detail}): start one (\`redis-server\`, or \`docker run -p 6379:6379 redis:7\`) or point REDIS_URL at yours`,
    );
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * Opens a connection and proves it with a PING within `timeoutMs`, or throws
 * RedisUnavailableError. After that first answer the connection reconnects on its own
 * (a restarted Redis is picked up again), and `maxRetriesPerRequest: null` keeps BullMQ's
 * blocking commands waiting through the outage instead of failing them.
 */
export async function connectRedis(url: string = DEFAULT_REDIS_URL, options: { timeoutMs?: number } = {}): Promise<Redis> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  let connected = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: timeoutMs,
    // Before the first answer: give up at once (fail fast). After: back off up to 2 s.
    retryStrategy: (times) => (connected ? Math.min(times * 100, 2_000) : null),
  });
  // Errors surface through the awaited calls; without a listener ioredis would print them.
  redis.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await redis.connect();
        await redis.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    // Already ended (refused, and the retry strategy gave up): disconnecting again would arm
    // ioredis' 2 s "destroy the stream" timer on a closed stream, keeping the process alive.
    if (redis.status !== 'end') redis.disconnect();
    throw new RedisUnavailableError(url, (e as Error).message || 'connection refused');
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  return redis;
}

/**
 * Deletes every BullMQ key of the queues under `prefix` (`bull:<prefix>-<tier>:…`), a
 * SCAN at a time: what a test, a benchmark or a throwaway deployment leaves in a shared
 * Redis. Keys of other prefixes are left alone.
 */
export async function deleteQueueKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `bull:${prefix}-*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
