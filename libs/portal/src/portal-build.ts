/**
 * One production build of the portal (`next build` into apps/web/.next), made only
 * when the sources changed since the last one, and never two at once: what `cairn ui`,
 * `cairn up`, `cairn demo`, the browser tests and the portal benchmark all use
 * (`@cairn/portal`).
 *
 * A lib, so that the CLI and the tools need no import of the web app: the web app is
 * found on disk (apps/web beside libs/ in this checkout) and built by running its own
 * `next`, never imported.
 *
 * A build older than any of its sources is rebuilt. The portal compiles every @cairn
 * lib it imports (next.config.mjs `transpilePackages`), so a change to any lib source,
 * to the Next config or to the installed packages makes a build stale too. Tests
 * (*.test.ts) are not part of the bundle and do not count.
 *
 * The type pass of `next build` is skipped (CAIRN_WEB_SKIP_TYPECHECK=1): the
 * `typecheck` target checks the same files.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** apps/web, wherever this checkout is (with a trailing slash, as the build lock's key has it). */
export const WEB_DIR = fileURLToPath(new URL('../../../apps/web/', import.meta.url));
export const REPO_ROOT = path.resolve(WEB_DIR, '../..');

/** What a build is made from: folders walked for files, and single files. */
const SOURCE_DIRS = ['apps/web/src', 'apps/web/build', ...fs.readdirSync(path.join(REPO_ROOT, 'libs')).map((lib) => `libs/${lib}/src`)];
const SOURCE_FILES = ['apps/web/next.config.mjs', 'apps/web/package.json', 'apps/web/tsconfig.json', 'package-lock.json', 'tsconfig.base.json'];

function isSource(name: string): boolean {
  return !/\.test\.tsx?$/.test(name);
}

/** The newest modification time among the portal's sources, and the file that has it. */
export function newestSource(): { file: string; mtimeMs: number } {
  let newest = { file: '', mtimeMs: 0 };
  const consider = (file: string) => {
    const m = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (m > newest.mtimeMs) newest = { file, mtimeMs: m };
  };
  for (const d of SOURCE_DIRS) {
    const dir = path.join(REPO_ROOT, d);
    if (!fs.existsSync(dir)) continue;
    for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile() && isSource(e.name)) consider(path.join(e.parentPath, e.name));
    }
  }
  for (const f of SOURCE_FILES) consider(path.join(REPO_ROOT, f));
  return newest;
}

/** Whether apps/web/.next holds a production build made after the last source change. */
export function portalBuildIsCurrent(): boolean {
  const built = fs.statSync(path.join(WEB_DIR, '.next', 'BUILD_ID'), { throwIfNoEntry: false })?.mtimeMs;
  return built !== undefined && newestSource().mtimeMs <= built;
}

export function nextBin(): string {
  return createRequire(path.join(WEB_DIR, 'package.json')).resolve('next/dist/bin/next');
}

/**
 * A lock around building, so concurrent test runs and benchmarks on one checkout never
 * write .next together: a directory made atomically, holding the owner's pid; one whose
 * owner is gone is taken over.
 */
async function withBuildLock<T>(fn: () => Promise<T>, log: (line: string) => void): Promise<T> {
  const key = createHash('sha256').update(WEB_DIR).digest('hex').slice(0, 12);
  const lock = path.join(os.tmpdir(), `cairn-web-build-${key}.lock`);
  const deadline = Date.now() + 10 * 60_000;
  let told = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      // No pid yet: its owner is between mkdir and write, or died there (then the lock is old).
      const orphan = !owner && Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 10_000;
      if ((owner && !alive(owner)) || orphan) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another process (pid ${owner || '?'}) has been building the portal for 10 minutes (lock ${lock})`);
      if (!told) log(`waiting for another portal build (pid ${owner || '?'}) to finish…`);
      told = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function runNextBuild(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nextBin(), 'build'], {
      cwd: WEB_DIR,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', CAIRN_WEB_SKIP_TYPECHECK: '1', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`next build in ${WEB_DIR} failed (${signal ?? `exit ${code}`}):\n${output.trim().split('\n').slice(-40).join('\n')}`));
    });
  });
}

/**
 * Makes sure .next is a current production build: builds when it is missing or older
 * than a source (about a minute on two cores), else does nothing. Returns what it did.
 */
export async function ensurePortalBuild(log: (line: string) => void = (l) => console.log(l), opts: { force?: boolean } = {}): Promise<{ built: boolean; ms: number }> {
  const t0 = performance.now();
  if (!opts.force && portalBuildIsCurrent()) return { built: false, ms: 0 };
  return withBuildLock(async () => {
    // Someone else may have built it while this process waited for the lock.
    if (!opts.force && portalBuildIsCurrent()) return { built: false, ms: performance.now() - t0 };
    const hasBuild = fs.existsSync(path.join(WEB_DIR, '.next', 'BUILD_ID'));
    log(`building the portal (next build: ${hasBuild ? `${path.relative(REPO_ROOT, newestSource().file)} changed since the last build` : 'no build yet'})…`);
    const started = new Date();
    await runNextBuild();
    // Dated when the build started: a source saved during the build makes it stale.
    fs.utimesSync(path.join(WEB_DIR, '.next', 'BUILD_ID'), started, started);
    return { built: true, ms: performance.now() - t0 };
  }, log);
}
