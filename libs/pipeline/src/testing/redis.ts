import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { connectRedis, redisUrl } from '../redis.ts';

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
      const connection = await connectRedis(redisUrl(), { timeoutMs: 1_000 });
      return { url: redisUrl(), connection, prefix, close: () => cleanup(connection, prefix) };
    } catch {
      // fall through to a private server
    }
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(`no Redis answers at ${redisUrl()} and redis-server is not installed: install it (apt-get install -y redis-server) or set REDIS_URL`);
  }
  const port = await freePort();
  // Persistent: an append-only file synced on every write, as a production queue's Redis
  // should run, so a restart (even a SIGKILL) loses nothing.
  const dir = options.persistent ? fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-redis-')) : null;
  const startServer = (p: number) => spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', ...(dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : ['--appendonly', 'no'])], { stdio: 'ignore' });
  let proc = startServer(port);
  const url = `redis://127.0.0.1:${port}`;
  const connection = await waitFor(url);
  const server = {
    port,
    /** SIGKILLs the server, leaves it down `downMs`, and starts it again on the same port. */
    async restart(downMs = 0) {
      await stopServer(proc);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      proc = startServer(port);
      await (await waitFor(url)).quit();
    },
    stop: () => stopServer(proc),
  };
  return {
    url,
    connection,
    prefix,
    server,
    async close() {
      connection.disconnect();
      await stopServer(proc);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stopServer(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

async function waitFor(url: string): Promise<Redis> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await connectRedis(url, { timeoutMs: 500 });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Deletes every key under the test's prefix (its queues), then disconnects. */
async function cleanup(connection: Redis, prefix: string): Promise<void> {
  try {
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `bull:${prefix}-*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await connection.del(...keys);
    } while (cursor !== '0');
  } finally {
    connection.disconnect();
  }
}
