import { spawn, type ChildProcess } from 'node:child_process';
import { CairnError, bindHostEntry } from '@cairn/schema';
import { WEB_DIR, ensurePortalBuild, nextBin } from '@cairn/portal';
import { cliConfig } from './config.ts';

export { WEB_DIR };

export interface PortalOptions {
  port: number;
  host: string;
  /** The portal's store and queues, passed as the environment the CLI itself reads. */
  env: { DATABASE_URL?: string; REDIS_URL?: string; CAIRN_HOME?: string; CAIRN_QUEUE_PREFIX?: string };
  log: (line: string) => void;
  /** Rebuild even when the build looks current. */
  rebuild?: boolean;
}

export interface StartedPortal {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the portal (`next start`) as a child process and resolves once it answers HTTP.
 * The child gets the store and Redis as environment variables, exactly what a portal
 * deployed by itself would be given.
 */
export async function startPortal(o: PortalOptions): Promise<StartedPortal> {
  // In local mode the portal answers only requests addressed to this machine or to these
  // names (DNS rebinding): the host it listens on counts when it is a name. Checked first,
  // so a bad entry stops the command rather than failing every request of the portal.
  const allowed = [...(cliConfig().allowedHosts ?? []), ...bindHostEntry(o.host)];
  try {
    // Built once per change to its sources (about 20–60 s on two cores), under a lock
    // shared with every other command and test that builds it.
    await ensurePortalBuild((line) => o.log(line.charAt(0).toUpperCase() + line.slice(1)), { force: Boolean(o.rebuild) });
  } catch (e) {
    throw new CairnError('PORTAL_FAILED', `the portal build failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'CAIRN_HOME', 'CAIRN_QUEUE_PREFIX'] as const) {
    delete env[k];
    if (o.env[k]) env[k] = o.env[k];
  }
  if (allowed.length) env.CAIRN_ALLOWED_HOSTS = [...new Set(allowed)].join(',');
  const child = spawn(process.execPath, [nextBin(), 'start', '-p', String(o.port), '-H', o.host], { cwd: WEB_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const shownHost = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${o.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new CairnError('PORTAL_FAILED', `the portal exited with code ${child.exitCode} before answering:\n${output.trim()}`);
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new CairnError('PORTAL_FAILED', `the portal did not answer on ${url} within 60 s:\n${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      }),
  };
}
