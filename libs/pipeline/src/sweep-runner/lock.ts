import { randomUUID } from 'node:crypto';
import { CairnError } from '@cairn/schema';
import type { Store } from '@cairn/store';
import type { TierQueues } from '../queues.ts';

/*
 * One Redis lock per sweep: every advance and a cancel hold it, so trial indexes stay
 * unique however many processes move a sweep on at once.
 */

const LOCK_TTL_MS = 60_000;
export const DEFAULT_LOCK_WAIT_MS = 120_000;

/** What moving a sweep on (or cancelling it) needs. */
export interface SweepDeps {
  store: Store;
  /** The queues trials go on; its connection holds the sweep's lock. */
  queues: TierQueues;
  /** How long to wait for another advance of the same sweep (default 2 min). */
  lockWaitMs?: number;
}

/** Holds the sweep's lock (SET NX PX, released only by its holder) while `fn` runs; waits for it when another holds it. */
export async function withSweepLock<T>(queues: TierQueues, parentId: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const redis = queues.connection;
  const key = `${queues.prefix}:sweep-lock:${parentId}`;
  const token = randomUUID();
  const deadline = Date.now() + waitMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    if ((await redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') break;
    if (Date.now() >= deadline) throw new CairnError('INVALID_STATE', `sweep ${parentId} is being advanced by another process (lock ${key} held for over ${Math.round(waitMs / 1000)} s)`);
    await new Promise((r) => setTimeout(r, delay));
  }
  // Kept alive while held, so a long advance (thousands of trials) never outlives it.
  const keepAlive = setInterval(() => {
    redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end", 1, key, token, LOCK_TTL_MS).catch(() => undefined);
  }, LOCK_TTL_MS / 3);
  keepAlive.unref();
  try {
    return await fn();
  } finally {
    clearInterval(keepAlive);
    await redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, key, token).catch(() => undefined);
  }
}
