/**
 * The built portal served by `next start` on a free loopback port, against a store and
 * queues given as the environment a deployed portal reads (DATABASE_URL or CAIRN_HOME,
 * CAIRN_BLOBS, REDIS_URL, CAIRN_QUEUE_PREFIX; CAIRN_AUTH… for team mode) — none of it
 * inherited from the shell.
 * Resolves once `/api/health` answers and `/api/ready` has opened the store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { WEB_DIR, nextBin } from './build.ts';

export interface PortalEnv {
  DATABASE_URL?: string;
  CAIRN_HOME?: string;
  CAIRN_BLOBS?: string;
  REDIS_URL?: string;
  CAIRN_QUEUE_PREFIX?: string;
  /** Anything else the portal should see (team-mode settings, say). */
  [name: string]: string | undefined;
}

export interface RunningPortal {
  url: string;
  process: ChildProcess;
  /** The server's last output (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Variables that must come from `env` only, never from the caller's shell: the store, blobs,
 * queues, and every other CAIRN_* setting (CAIRN_AUTH=team in a shell must not turn a
 * local-mode test into a team-mode one).
 */
function ownVar(name: string): boolean {
  return name.startsWith('CAIRN_') || name === 'DATABASE_URL' || name === 'REDIS_URL';
}

export async function startPortal(env: PortalEnv, opts: { readyTimeoutMs?: number } = {}): Promise<RunningPortal> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
  for (const k of Object.keys(childEnv)) if (ownVar(k)) delete childEnv[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  const child = spawn(process.execPath, [nextBin(), 'start', '-p', String(port), '-H', '127.0.0.1'], { cwd: WEB_DIR, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      // SIGTERM: the portal closes its store (an embedded one releases CAIRN_HOME) and queues.
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 8_000).unref();
    });

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`the portal (next start on ${url}) ${why}:\n${output.trim().split('\n').slice(-40).join('\n')}`);
  };
  for (const path of ['/api/health', '/api/ready']) {
    for (;;) {
      if (child.exitCode !== null) return fail(`exited with code ${child.exitCode}`);
      try {
        const res = await fetch(url + path, { signal: AbortSignal.timeout(30_000) });
        if (res.ok) break;
        if (path === '/api/ready' && res.status === 503) return fail(`could not open its store: ${await res.text()}`);
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) return fail(`did not answer ${path} in time`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  return { url, process: child, output: () => output, stop };
}
