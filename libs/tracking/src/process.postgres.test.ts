import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';
import { openStore } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';

const child = fileURLToPath(new URL('./fixtures/child-run.ts', import.meta.url));
const cwd = fileURLToPath(new URL('..', import.meta.url));

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  runId: string;
}

/** Runs the fixture for real (`node --import tsx`) against a fresh store location. */
function runChild(mode: string, loc: { home?: string; url?: string }, onRun?: (p: ReturnType<typeof spawn>) => void): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, CAIRN_DISABLED: '', CAIRN_URL: '' };
  delete env.DATABASE_URL;
  delete env.CAIRN_HOME;
  if (loc.home) env.CAIRN_HOME = loc.home;
  if (loc.url) env.DATABASE_URL = loc.url;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, mode], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let runId = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const m = /RUN ([0-9a-f-]{36})/.exec(stdout);
      if (m && !runId) {
        runId = m[1]!;
        onRun?.(p);
      }
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, runId }));
  });
}

describe.each(testDrivers())('process hooks in a real child process on $name', (driver) => {
  afterAll(() => driver.cleanup());

  async function inspect(loc: { home?: string; url?: string }, runId: string) {
    const store = await openStore(loc);
    try {
      const run = await store.getRun(runId);
      return { status: run.status, reason: run.statusReason, points: run.metrics.loss?.count ?? 0 };
    } finally {
      await store.close();
    }
  }

  it('an uncaught exception ends the run failed with its message, flushed, and the process still crashes', async ({ expect }) => {
    const loc = await driver.fresh();
    const out = await runChild('throw', loc);
    expect(out.runId, out.stderr).not.toBe('');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('TypeError: exploded at epoch 3'); // Node's own report
    expect(await inspect(loc, out.runId)).toEqual({ status: 'failed', reason: 'TypeError: exploded at epoch 3', points: 2 });
  });

  it('an unhandled rejection ends the run failed with its message', async ({ expect }) => {
    const loc = await driver.fresh();
    const out = await runChild('reject', loc);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('async exploded');
    expect(await inspect(loc, out.runId)).toEqual({ status: 'failed', reason: 'async exploded', points: 2 });
  });

  it('SIGTERM ends the run cancelled, then the process dies of the signal', async ({ expect }) => {
    const loc = await driver.fresh();
    const out = await runChild('signal', loc, (p) => setTimeout(() => p.kill('SIGTERM'), 100));
    expect(out.signal).toBe('SIGTERM');
    const r = await inspect(loc, out.runId);
    expect(r.status).toBe('cancelled');
    expect(r.reason).toBe('signal SIGTERM');
    expect(r.points).toBeGreaterThanOrEqual(2);
  });

  it('a script that forgets finish() ends its run finished when the event loop runs dry', async ({ expect }) => {
    const loc = await driver.fresh();
    const out = await runChild('forget', loc);
    expect(out.code, out.stderr).toBe(0);
    expect(await inspect(loc, out.runId)).toEqual({ status: 'finished', reason: null, points: 2 });
  });

  it('a non-zero process.exitCode ends the run failed', async ({ expect }) => {
    const loc = await driver.fresh();
    const out = await runChild('exitcode', loc);
    expect(out.code).toBe(3);
    expect(await inspect(loc, out.runId)).toEqual({ status: 'failed', reason: 'process exited with code 3', points: 2 });
  });

  it("leaves the run alone when the program handles its own errors", async ({ expect }) => {
    const loc = await driver.fresh();
    const out = await runChild('handled', loc);
    expect(out.stdout).toContain('HANDLED mine');
    expect(out.code, out.stderr).toBe(0);
    expect(await inspect(loc, out.runId)).toEqual({ status: 'abandoned', reason: 'handled by the program', points: 2 });
  });
}, 120_000);
