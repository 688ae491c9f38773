import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'apps/worker/bin/cairn-worker.js');

export interface WorkerProcess {
  proc: ChildProcess;
  stderr: () => string;
  /** Resolves with the first match of `re` in the worker's stderr; rejects if it exits first or after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `exited`, or a rejection after `ms` carrying what the worker said (a stop that hangs fails with its reason). */
  exitedWithin(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A `cairn-worker` process with its stderr collected; `waitFor` watches it for a line. */
export function startWorkerProcess(args: string[], env: NodeJS.ProcessEnv): WorkerProcess {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  delete e.DATABASE_URL;
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    stderr: () => err,
    async waitFor(re, ms = 60_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = re.exec(err);
        if (m) return m;
        if (proc.exitCode !== null) throw new Error(`worker exited (${proc.exitCode}) before ${re}: ${err}`);
        if (Date.now() > deadline) throw new Error(`no ${re} within ${ms} ms: ${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    exited,
    exitedWithin(ms) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the worker did not exit within ${ms} ms: ${err}`)), ms);
      });
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
  };
}

