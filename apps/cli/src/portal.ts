import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CairnError } from '@cairn/schema';

/** The portal's Next.js app in this checkout. */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const REPO = path.join(WEB_DIR, '../..');
/**
 * What a portal build is made from: its own sources and config, every lib it compiles
 * (next.config.mjs transpilePackages), and the installed packages. A build older than
 * any of them is rebuilt. Tests are not bundled and do not count.
 */
function sourceDirs(): string[] {
  const libs = fs.readdirSync(path.join(REPO, 'libs')).map((lib) => path.join(REPO, 'libs', lib, 'src'));
  return [path.join(WEB_DIR, 'src'), path.join(WEB_DIR, 'build'), ...libs];
}
const SOURCE_FILES = ['apps/web/next.config.mjs', 'apps/web/package.json', 'apps/web/tsconfig.json', 'package-lock.json', 'tsconfig.base.json'];

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

function nextBin(): string {
  return createRequire(path.join(WEB_DIR, 'package.json')).resolve('next/dist/bin/next');
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || /\.test\.tsx?$/.test(e.name)) continue;
    newest = Math.max(newest, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/** Whether `.next` holds a production build made after the last source change. */
export function portalBuildIsCurrent(): boolean {
  const id = path.join(WEB_DIR, '.next', 'BUILD_ID');
  const built = fs.statSync(id, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) return false;
  const files = SOURCE_FILES.map((f) => fs.statSync(path.join(REPO, f), { throwIfNoEntry: false })?.mtimeMs ?? 0);
  return [...sourceDirs().map(newestMtime), ...files].every((m) => m <= built);
}

/** `next build` of the portal, once per source change (about 20–60 s on two cores). */
export function buildPortal(log: (line: string) => void): void {
  log('Building the portal (next build; once per change to its sources)…');
  const r = spawnSync(process.execPath, [nextBin(), 'build'], {
    cwd: WEB_DIR,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new CairnError('PORTAL_FAILED', `the portal build failed (next build in ${WEB_DIR}):\n${tail}`);
  }
}

/**
 * Starts the portal (`next start`) as a child process and resolves once it answers HTTP.
 * The child gets the store and Redis as environment variables, exactly what a portal
 * deployed by itself would be given.
 */
export async function startPortal(o: PortalOptions): Promise<StartedPortal> {
  if (o.rebuild || !portalBuildIsCurrent()) buildPortal(o.log);
  const env: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'CAIRN_HOME', 'CAIRN_QUEUE_PREFIX'] as const) {
    delete env[k];
    if (o.env[k]) env[k] = o.env[k];
  }
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
