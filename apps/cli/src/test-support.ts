import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '@cairn/store';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const ROOT = path.resolve(path.dirname(MAIN), '../../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI in a child process, as `npm run cairn` does. DATABASE_URL and
 * CAIRN_HOME are removed from its environment so only the arguments pick the store.
 */
export function cli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.FORCE_COLOR;
  if (!options.env || !('DATABASE_URL' in options.env)) delete env.DATABASE_URL;
  if (!options.env || !('CAIRN_HOME' in options.env)) delete env.CAIRN_HOME;
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, timeout: options.timeoutMs ?? 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

export interface Seeded {
  /** Run ids by seed name. */
  runs: Record<'adam' | 'sgd' | 'diverged' | 'plateau' | 'resnet' | 'queued', string>;
}

/**
 * Two experiments, six runs covering every status that matters to a reader:
 *
 *   mnist:  adam (finished, lr 0.001, acc .97), sgd (finished, lr 0.1, acc .91),
 *           diverged (failed, loss NaN), plateau (abandoned, tier ci)
 *   cifar:  resnet (running, adam), queued (queued, no params)
 */
export async function seed(store: Store): Promise<Seeded> {
  const mnist = await store.createExperiment({ name: 'mnist', description: 'digits' });
  const cifar = await store.createExperiment({ name: 'cifar' });
  const series = (key: string, values: number[]) => values.map((value, step) => ({ key, value, step }));

  const adam = await store.createRun({
    experimentId: mnist.id,
    name: 'adam-baseline',
    code: { gitSha: 'abc1234', gitDirty: true, codeHash: 'ff'.repeat(16) },
    environment: { node: 'v20.11.0', platform: 'linux', cpus: { model: 'Xeon', count: 8 }, memoryBytes: 16 * 2 ** 30 },
    params: { lr: 0.001, optimizer: 'adam', epochs: 3 },
    tags: { team: 'vision' },
  });
  await store.logMetrics(adam.id, [...series('acc', [0.8, 0.95, 0.97]), ...series('loss', [0.9, 0.3, 0.1])]);
  await store.logArtifact(adam.id, { path: 'model/weights.bin', hash: 'ab'.repeat(32), size: 123_456 });
  await store.addNote({ kind: 'run', id: adam.id }, '# Baseline\n\nStable; **use this** as the reference.', 'ana');
  await store.endRun(adam.id, 'finished');

  const sgd = await store.createRun({ experimentId: mnist.id, name: 'sgd-fast', params: { lr: 0.1, optimizer: 'sgd', epochs: 3 } });
  await store.logMetrics(sgd.id, [...series('acc', [0.7, 0.93, 0.91]), ...series('loss', [1.1, 0.4, 0.45])]);
  await store.endRun(sgd.id, 'finished');

  const diverged = await store.createRun({ experimentId: mnist.id, name: 'sgd-diverged', params: { lr: 5, optimizer: 'sgd', epochs: 3 } });
  await store.logMetrics(diverged.id, [...series('loss', [2, 40, Number.NaN]), ...series('acc', [0.1, 0.1, 0.1])]);
  await store.endRun(diverged.id, 'failed', 'loss diverged: NaN at step 2');

  const plateau = await store.createRun({ experimentId: mnist.id, name: 'adam-plateau', tier: 'ci', params: { lr: 0.0001, optimizer: 'adam', epochs: 3 } });
  await store.logMetrics(plateau.id, series('acc', [0.5, 0.51, 0.51]));
  await store.endRun(plateau.id, 'abandoned', 'plateau: no improvement in 5 evaluations');

  const resnet = await store.createRun({ experimentId: cifar.id, name: 'resnet-adam', params: { lr: 0.01, optimizer: 'adam' } });
  await store.logMetrics(resnet.id, series('acc', [0.3, Number.POSITIVE_INFINITY]));

  const queued = await store.createRun({ experimentId: cifar.id, name: 'queued-one', status: 'queued' });

  return { runs: { adam: adam.id, sgd: sgd.id, diverged: diverged.id, plateau: plateau.id, resnet: resnet.id, queued: queued.id } };
}

/** CLI arguments that point at a location from `testDrivers()[i].fresh()`. */
export function storeArgs(loc: { home?: string; url?: string }): string[] {
  if (loc.url) return ['--db', loc.url];
  if (loc.home) return ['--home', loc.home];
  throw new Error('a test location has a home or a url');
}

/** The shortest prefix (at least 8 characters) of `id` that no other id shares. */
export function uniquePrefix(id: string, others: string[]): string {
  for (let n = 8; n < id.length; n++) {
    const p = id.slice(0, n);
    if (!p.endsWith('-') && !others.some((o) => o !== id && o.startsWith(p))) return p;
  }
  return id;
}

/** stderr as lines, without the trailing empty one. */
export function lines(text: string): string[] {
  return text.replace(/\n$/, '').split('\n');
}

export interface CliProcess {
  proc: import('node:child_process').ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the first match of `re` in stderr (or stdout); rejects when the process exits first or after `ms`. */
  waitFor(re: RegExp, ms?: number, stream?: 'stderr' | 'stdout'): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A long-running CLI process (`cairn worker`), with the environment rules of `cli()`.
 * Kill it with `proc.kill()`; `exited` says how it ended.
 */
export function spawnCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.FORCE_COLOR;
  if (!options.env || !('DATABASE_URL' in options.env)) delete env.DATABASE_URL;
  if (!options.env || !('CAIRN_HOME' in options.env)) delete env.CAIRN_HOME;
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let outText = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout!.on('data', (d: Buffer) => (outText += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    stderr: () => err,
    stdout: () => outText,
    async waitFor(re, ms = 60_000, stream = 'stderr') {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = re.exec(stream === 'stderr' ? err : outText);
        if (m) return m;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`the process ended (${proc.exitCode ?? proc.signalCode}) before ${re}: ${err}`);
        if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms: ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    exited,
  };
}
