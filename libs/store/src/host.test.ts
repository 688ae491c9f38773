import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { hostEmbeddedStore, openStore } from './index.ts';
import { readHostFile } from './host-file.ts';
import { Processes, acks, exited, migrationCount, pointCount } from './fixtures/processes.ts';

// Real processes on a real PGlite directory: the embedded store shared by a host
// (PGlite-only by nature: openStore({ home }) never looks at DATABASE_URL).
const procs = new Processes();
// Fresh PGlite directories (initdb) in child processes: about 20 s on an idle 2-core
// machine, three times that when it is shared; the default 60 s is too close.
const PROCESS_TEST_TIMEOUT_MS = 150_000;
afterAll(() => procs.cleanup());

describe('the embedded store shared through a hosting process', () => {
  it('two writer processes and a CLI-style open use it at once: every point arrives once, migrations apply once', async () => {
    const home = procs.tempHome();
    const dataDir = path.join(home, 'db');
    const { child: host, url } = await procs.startHost(home);
    try {
      const info = readHostFile(home)!;
      expect(info).toMatchObject({ pid: host.pid, host: '127.0.0.1', url, hostname: os.hostname(), dataDir });
      expect(info.port).toBeGreaterThan(0);
      expect(Date.parse(info.startedAt)).not.toBeNaN();
      expect(fs.statSync(path.join(home, 'host.json')).mode & 0o777).toBe(0o600);

      const runs = 2;
      const batches = 8;
      const size = 2_000;
      const writers = ['a', 'b'].map((name) => procs.runWriter(home, { name, runs, batches, size }));
      // A CLI command meanwhile: it opens through the host (no STORE_LOCKED, no 3 s PGlite start).
      const cli = await openStore({ home });
      expect([cli.driver, cli.location]).toEqual(['pglite', dataDir]);
      expect((await cli.ensureExperiment({ name: 'from-cli' })).name).toBe('from-cli');
      // A second long-lived process joins the host rather than failing.
      const second = await hostEmbeddedStore({ home });
      expect([second.hosting, second.url]).toEqual([false, url]);
      await second.close();

      const results = await Promise.all(writers);
      for (const r of results) {
        expect(r.lines[0]).toBe(`open pglite ${dataDir}`);
        expect(r.lines.at(-1)).toBe('done');
        expect(r.code).toBe(0);
      }
      const all = results.flatMap((r) => acks(r.lines));
      const runIds = [...new Set(all.map((a) => a.run))];
      expect(runIds).toHaveLength(2 * runs);
      expect(all.every((a) => a.inserted === size)).toBe(true);
      for (const run of runIds) expect(await pointCount(cli, run)).toBe(batches * size);
      expect((await cli.listExperiments()).map((e) => e.name).sort()).toEqual(['from-cli', 'hosted', 'shared']);
      // Through `pg` on the published URL, as a DATABASE_URL would be: the same rows, each
      // once, and the migrations applied once although four processes opened the store.
      const raw = new pg.Client({ connectionString: url });
      await raw.connect();
      try {
        const m = await raw.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
        expect(m.rows[0].n).toBe(migrationCount);
        const p = await raw.query('SELECT count(*)::int AS n, count(DISTINCT (run_id, key, step))::int AS d FROM metrics');
        expect(p.rows[0]).toEqual({ n: 2 * runs * batches * size, d: 2 * runs * batches * size });
      } finally {
        await raw.end();
      }
      await cli.close();
    } finally {
      host.kill('SIGTERM');
      await exited(host);
    }
    // A clean stop leaves neither host file nor lock.
    expect(fs.existsSync(path.join(home, 'host.json'))).toBe(false);
    expect(fs.existsSync(path.join(home, 'db.lock'))).toBe(false);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('a process that holds the store without hosting it still gives STORE_LOCKED, saying how to share it', async () => {
    // The lock of a live process that published no host file, as a running CLI command
    // leaves it (driver-faults.test.ts holds a real PGlite; the lock file is all that counts).
    const home = procs.tempHome();
    const holder = procs.spawn('sleep', ['60']);
    const lock = { pid: holder.pid, host: os.hostname(), command: 'cairn runs list', startedAt: new Date().toISOString() };
    fs.writeFileSync(path.join(home, 'db.lock'), JSON.stringify(lock));
    try {
      for (const attempt of [openStore({ home }), hostEmbeddedStore({ home })]) {
        const err = (await attempt.then(
          () => null,
          (e: unknown) => e,
        )) as CairnError;
        expect(err).toBeInstanceOf(CairnError);
        expect(err.code).toBe('STORE_LOCKED');
        expect(err.message).toContain(`process ${holder.pid}`);
        expect(err.message).toMatch(/cairn ui.*cairn worker/);
        expect(err.message).toMatch(/DATABASE_URL/);
      }
    } finally {
      holder.kill('SIGKILL');
      await exited(holder);
    }
  });
});
