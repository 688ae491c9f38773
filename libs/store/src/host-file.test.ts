import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostFilePath, liveHost, writeHostFile, type HostInfo } from './host-file.ts';

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
});

function home(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-hostfile-'));
  homes.push(d);
  return d;
}

// A host file names a live process of this machine (this one) and where to connect.
const info = (url: string): HostInfo => ({
  pid: process.pid,
  host: '127.0.0.1',
  port: 1,
  url,
  startedAt: new Date().toISOString(),
  hostname: os.hostname(),
  dataDir: '/nowhere',
  command: 'test',
});

describe('CAIRN_HOME/host.json', () => {
  it('is written 0600, even over a leftover temp file that was not', () => {
    const h = home();
    const temp = `${hostFilePath(h)}.${process.pid}.tmp`;
    fs.writeFileSync(temp, 'left by a crash', { mode: 0o666 });
    fs.chmodSync(temp, 0o666);
    writeHostFile(h, info('postgres://cairn:pw@127.0.0.1:1/cairn'));
    expect(fs.statSync(hostFilePath(h)).mode & 0o777).toBe(0o600);
    expect(liveHost(h)?.url).toBe('postgres://cairn:pw@127.0.0.1:1/cairn');
  });

  it("is not trusted when another user could have written it: a planted file would send this user's data to their server", (ctx) => {
    const h = home();
    // Where CAIRN_HOME is writable by others (umask 0), someone else can put a file there.
    fs.writeFileSync(hostFilePath(h), JSON.stringify(info('postgres://evil:pw@127.0.0.1:1/theirs')), { mode: 0o600 });
    fs.chmodSync(hostFilePath(h), 0o666);
    expect(liveHost(h)).toBeNull();
    fs.chmodSync(hostFilePath(h), 0o600);
    expect(liveHost(h)?.url).toBe('postgres://evil:pw@127.0.0.1:1/theirs'); // this user's own file, 0600: trusted
    if (process.getuid?.() !== 0) return ctx.skip(); // only root can give a file to another user
    fs.chownSync(hostFilePath(h), 65_534, 65_534);
    expect(liveHost(h)).toBeNull();
  });
});
