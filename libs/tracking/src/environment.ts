import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunEnvironment } from '@cairn/schema';
import type { CodeRef } from '@cairn/store';

export interface CapturedContext {
  environment: RunEnvironment;
  code: CodeRef;
}

export interface CaptureOptions {
  /** Where to look for git and package-lock.json (default process.cwd()). */
  cwd?: string;
  /** Limit for each git command (default 3 s); past it the value is null. */
  gitTimeoutMs?: number;
}

/**
 * What a run records about where it ran. Never throws: anything it cannot find
 * (no git, no package-lock.json) is null or left out.
 */
export async function captureContext(options: CaptureOptions = {}): Promise<CapturedContext> {
  const cwd = options.cwd ?? process.cwd();
  const [git, lock] = await Promise.all([gitState(cwd, options.gitTimeoutMs ?? 3000), packageLockHash(cwd)]);
  const environment: RunEnvironment = { ...machineEnvironment() };
  if (lock) environment.packageLockHash = lock.sha256;
  return { environment, code: { gitSha: git.sha, gitDirty: git.dirty } };
}

export function machineEnvironment(): RunEnvironment {
  const env: RunEnvironment = {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
  };
  try {
    env.hostname = os.hostname();
  } catch {
    /* leave it out */
  }
  try {
    const cpus = os.cpus();
    env.cpus = { model: cpus[0]?.model?.trim() || 'unknown', count: cpus.length || os.availableParallelism() };
  } catch {
    /* leave it out */
  }
  try {
    env.memoryBytes = os.totalmem();
  } catch {
    /* leave it out */
  }
  return env;
}

/** HEAD's sha and whether the work tree has changes; null for each when git is absent, slow or not a repo. */
export async function gitState(cwd: string, timeoutMs = 3000): Promise<{ sha: string | null; dirty: boolean | null }> {
  // One git process for both (spawning one costs more than git's own work here): the
  // porcelain v2 header names HEAD's commit, every other line is a change.
  const status = await run('git', ['status', '--porcelain=v2', '--branch'], cwd, timeoutMs);
  if (!status.ok && !status.overflow) return { sha: null, dirty: null };
  const lines = status.stdout.split('\n').filter(Boolean);
  const oid = /^# branch\.oid ([0-9a-f]{40,64})$/m.exec(status.stdout)?.[1] ?? null; // '(initial)' before the first commit
  // More changes than we care to read is dirty too.
  const dirty = status.overflow || lines.some((l) => !l.startsWith('# '));
  return { sha: oid, dirty };
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ ok: boolean; stdout: string; overflow: boolean }> {
  return new Promise((resolve) => {
    try {
      execFile(
        cmd,
        args,
        {
          cwd,
          timeout: timeoutMs,
          maxBuffer: 1024 * 1024,
          windowsHide: true,
          encoding: 'utf8',
          // Do not take git's index lock: the user may be running git at the same time.
          env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' },
        },
        (err, stdout) => {
          const overflow = (err as { code?: string } | null)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';
          resolve({ ok: !err, stdout: String(stdout ?? ''), overflow });
        },
      );
    } catch {
      resolve({ ok: false, stdout: '', overflow: false });
    }
  });
}

/** The sha256 of the nearest package-lock.json in `cwd` or above it; null when there is none. */
export async function packageLockHash(cwd: string): Promise<{ path: string; sha256: string } | null> {
  let dir = path.resolve(cwd);
  for (;;) {
    const file = path.join(dir, 'package-lock.json');
    try {
      const bytes = await readFile(file);
      return { path: file, sha256: createHash('sha256').update(bytes).digest('hex') };
    } catch {
      /* not here */
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
