import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from './lock.ts';

/**
 * CAIRN_HOME/host.json: where the process hosting the embedded store serves it (see
 * host.ts). Written only by the holder of CAIRN_HOME/db.lock, so a host file whose
 * process is gone is stale, and whoever takes the lock next removes it.
 */
export const HOST_FILE = 'host.json';

export interface HostInfo {
  /** The hosting process. */
  pid: number;
  /** The interface it listens on (127.0.0.1 unless asked otherwise). */
  host: string;
  port: number;
  /** postgres://cairn:TOKEN@HOST:PORT/cairn: what `pg` (or DATABASE_URL) connects with. */
  url: string;
  startedAt: string;
  /** The machine it runs on: a pid says nothing about another machine's processes. */
  hostname: string;
  /** The data directory it serves, for messages. */
  dataDir: string;
  /** What the process is (`cairn worker`, …), for messages. */
  command: string;
}

export function hostFilePath(home: string): string {
  return path.join(home, HOST_FILE);
}

/**
 * The host file, or null when there is none, it is not one, or someone else could
 * have written it: a file another user owns, or one others may write, is ignored.
 * Where CAIRN_HOME is writable by others, a file planted there would otherwise send
 * this user's processes, and their data, to a server of someone else's choosing.
 */
export function readHostFile(home: string): HostInfo | null {
  let fd: number;
  try {
    fd = fs.openSync(hostFilePath(home), 'r');
  } catch {
    return null;
  }
  try {
    // Checked on the open file, so that it cannot be swapped between check and read.
    const st = fs.fstatSync(fd);
    const uid = process.getuid?.();
    if ((uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return null;
    const parsed = JSON.parse(fs.readFileSync(fd, 'utf8')) as HostInfo;
    return typeof parsed.pid === 'number' && typeof parsed.url === 'string' ? parsed : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The host of `home` if its process runs on this machine now; a stale or foreign file gives null. */
export function liveHost(home: string): HostInfo | null {
  const info = readHostFile(home);
  if (!info || info.hostname !== os.hostname() || !isAlive(info.pid)) return null;
  return info;
}

/**
 * Publishes atomically (temp file, then rename): a reader sees the old file, no file,
 * or the whole new one. Mode 0600: the URL carries the password that keeps other users
 * of the machine out of the store.
 */
export function writeHostFile(home: string, info: HostInfo): void {
  const target = hostFilePath(home);
  const temp = `${target}.${process.pid}.tmp`;
  // A temp file left by a crashed process of the same pid keeps its old mode through
  // writeFileSync's `mode`: it is removed first, and the mode set on the open file.
  fs.rmSync(temp, { force: true });
  const fd = fs.openSync(temp, 'wx', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeFileSync(fd, `${JSON.stringify(info, null, 2)}\n`);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, target);
}

/** Removes the host file if `pid` wrote it (or, with no pid, whatever is there: the caller holds the lock). */
export function removeHostFile(home: string, pid?: number): void {
  if (pid !== undefined && readHostFile(home)?.pid !== pid) return;
  fs.rmSync(hostFilePath(home), { force: true });
}
