import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { DEFAULT_REDIS_URL, connectRedis, deleteQueueKeys } from '../redis.ts';
import { redisServerInstalled, startRedisServer } from '../redis-server.ts';

export interface TestRedis {
  url: string;
  connection: Redis;
  /** A queue prefix of its own, so tests sharing a Redis never see each other's jobs. */
  prefix: string;
  /** The private server, when one was started (tests that restart Redis need it). */
  server?: { port: number; restart(downMs?: number): Promise<void>; stop(): Promise<void> };
  close(): Promise<void>;
}

/**
 * Redis for tests: REDIS_URL (or the default local one) when it answers; else a private
 * `redis-server` on a free port when one is installed; else a clear error naming what to
 * install. Never waits more than a few seconds.
 */
export async function testRedis(options: { private?: boolean; persistent?: boolean } = {}): Promise<TestRedis> {
  const prefix = `cairn-test-${randomBytes(4).toString('hex')}`;
  if (!options.private && !options.persistent) {
    try {
      const connection = await connectRedis(testRedisUrl(), { timeoutMs: 1_000 });
      return { url: testRedisUrl(), connection, prefix, close: () => cleanup(connection, prefix) };
    } catch {
      // fall through to a private server
    }
  }
  if (!redisServerInstalled()) {
    throw new Error(`no Redis answers at ${testRedisUrl()} and redis-server is not installed: install it (apt-get install -y redis-server) or set REDIS_URL`);
  }
  // Persistent: append-only, synced on every write, so a restart (even a SIGKILL) loses nothing.
  const dir = options.persistent ? fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-redis-')) : null;
  const server = await startRedisServer(dir ? { dir } : {});
  const connection = await connectRedis(server.url, { timeoutMs: 1_000 });
  return {
    url: server.url,
    connection,
    prefix,
    server,
    async close() {
      connection.disconnect();
      await server.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes every key under the test's prefix (its queues), then disconnects. */
async function cleanup(connection: Redis, prefix: string): Promise<void> {
  try {
    await deleteQueueKeys(connection, prefix);
  } finally {
    connection.disconnect();
  }
}

/** The Redis tests use: REDIS_URL (CI sets it), else the local default. Test support may read the environment; libs may not. */
export function testRedisUrl(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}
