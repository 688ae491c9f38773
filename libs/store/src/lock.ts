import fs from 'node:fs';
import os from 'node:os';
import { StoreLockedError } from '@cairn/schema';

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
  /** 'host': the holder serves the store to other processes (see host.ts) once it is open. */
  role?: 'host';
}

const held = new Set<string>();
let exitHookInstalled = false;

/**
 * PGlite is single-process: two processes on one data directory corrupt it. A lock
 * file created with O_EXCL next to the directory makes the second opener fail with
 * an actionable message. A lock left by a dead process (same host, pid gone) is
 * taken over, so a crash never bricks CAIRN_HOME.
 */
export function acquireDirLock(lockPath: string, dataDir: string, role?: 'host'): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      const info: LockInfo = {
        pid: process.pid,
        host: os.hostname(),
        command: process.argv.slice(1, 3).join(' '),
        startedAt: new Date().toISOString(),
        ...(role ? { role } : {}),
      };
      fs.writeSync(fd, JSON.stringify(info));
      fs.closeSync(fd);
      held.add(lockPath);
      installExitHook();
      return () => releaseDirLock(lockPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readLock(lockPath);
      if (owner && owner.host === os.hostname() && !isAlive(owner.pid)) {
        // Stale: its process is gone. Remove and try again.
        fs.rmSync(lockPath, { force: true });
        continue;
      }
      if (owner === null) {
        // Being written right now, or garbage; give the writer a moment.
        sleepSync(50);
        const again = readLock(lockPath);
        if (again === null) {
          fs.rmSync(lockPath, { force: true });
          continue;
        }
      }
      const who = owner ? `process ${owner.pid} on ${owner.host} (${owner.command || 'node'}, since ${owner.startedAt})` : 'another process';
      // A hosting process holds the lock too; openStore only gets here when it is starting or stopping.
      const what =
        owner?.role === 'host'
          ? 'which is starting or stopping to share it; try again in a moment'
          : "which does not share it (PGlite serves one process at a time): wait for it to finish, or keep a long-lived Cairn process running ('cairn ui' or 'cairn worker') so that every Cairn process shares the store through it, or point DATABASE_URL at PostgreSQL";
      throw new StoreLockedError(`the embedded store at ${dataDir} is in use by ${who}, ${what}`);
    }
  }
  throw new StoreLockedError(`could not lock the embedded store at ${dataDir}; remove ${lockPath} if no Cairn process is running`);
}

export function releaseDirLock(lockPath: string): void {
  if (!held.delete(lockPath)) return;
  const owner = readLock(lockPath);
  if (owner?.pid === process.pid) fs.rmSync(lockPath, { force: true });
}

export function readLock(lockPath: string): LockInfo | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockInfo;
    return typeof parsed.pid === 'number' ? parsed : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of [...held]) releaseDirLock(p);
  });
}
