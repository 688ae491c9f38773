import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { connectRedis } from './redis.ts';

/** A `redis-server` this process started (for `cairn demo`/`cairn up` and tests). */
export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILLs the server, leaves it down `downMs`, and starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts `redis-server` on a free loopback port and waits until it answers. With `dir`,
 * it runs append-only with fsync on every write, as a production queue's Redis should,
 * so a restart (even a SIGKILL) loses nothing; without, it keeps nothing on disk.
 */
export async function startRedisServer(options: { dir?: string; port?: number } = {}): Promise<PrivateRedis> {
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
  args.push(...(options.dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.dir] : ['--appendonly', 'no']));
  const launch = () => spawn('redis-server', args, { stdio: 'ignore' });
  let proc = launch();
  const url = `redis://127.0.0.1:${port}`;
  await (await answering(url, proc)).quit();
  return {
    url,
    port,
    async restart(downMs = 0) {
      await stop(proc);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      proc = launch();
      await (await answering(url, proc)).quit();
    },
    stop: () => stop(proc),
  };
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

async function answering(url: string, proc: ChildProcess): Promise<Redis> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await connectRedis(url, { timeoutMs: 500 });
    } catch (e) {
      if (proc.exitCode !== null || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
