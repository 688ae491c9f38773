import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './index.ts';
import { readHostFile } from './host-file.ts';
import { Processes, acks, exited, pointCount } from './fixtures/processes.ts';

// A hosting process killed outright (PGlite-only by nature, like host.test.ts).
const procs = new Processes();
// Fresh PGlite directories (initdb) in child processes: about 20 s on an idle 2-core
// machine, three times that when it is shared; the default 60 s is too close.
const PROCESS_TEST_TIMEOUT_MS = 150_000;
afterAll(() => procs.cleanup());

describe('a host that dies', () => {
  it('a SIGKILLed host leaves a stale host file: the next openStore takes the store over and has every acknowledged write', async () => {
    const home = procs.tempHome();
    const { child: host } = await procs.startHost(home);
    const size = 1_000;
    // Kill the host while the writer is in the middle of its batches.
    let fifth: () => void;
    const fifthAck = new Promise<void>((r) => (fifth = r));
    let seen = 0;
    const writer = procs.runWriter(home, { name: 'w', runs: 1, batches: 1_000, size, onLine: (l) => l.startsWith('ack ') && ++seen === 5 && fifth() });
    await fifthAck;
    host.kill('SIGKILL');
    await exited(host);
    const result = await writer;
    expect(result.code).toBe(2);
    expect(result.lines.at(-1)).toMatch(/^error STORE_UNREACHABLE /);
    expect(result.lines.at(-1)).toContain(`hosted by process ${host.pid}`);
    const acked = acks(result.lines);
    expect(acked.length).toBeGreaterThanOrEqual(5);

    // Host file and lock are left behind; their process is gone.
    expect(readHostFile(home)?.pid).toBe(host.pid);
    expect(fs.existsSync(path.join(home, 'db.lock'))).toBe(true);
    // The takeover opens PGlite here (crash recovery) and runs the migrator: applying a
    // migration a second time would fail its CREATE TABLEs, and the open with them.
    const store = await openStore({ home });
    try {
      expect(store.location).toBe(path.join(home, 'db'));
      expect(fs.existsSync(path.join(home, 'host.json'))).toBe(false);
      // Every acknowledged batch is there, whole; at most the one in flight at the kill besides.
      const stored = await pointCount(store, acked[0]!.run);
      expect(stored % size).toBe(0);
      expect(stored / size).toBeGreaterThanOrEqual(acked.length);
      expect(stored / size).toBeLessThanOrEqual(acked.length + 1);
    } finally {
      await store.close();
    }
    expect(fs.existsSync(path.join(home, 'db.lock'))).toBe(false);
  }, PROCESS_TEST_TIMEOUT_MS);
});
