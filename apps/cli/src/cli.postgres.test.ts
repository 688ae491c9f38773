import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { cli, lines } from './test-support.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('cairn init', () => {
  it('creates CAIRN_HOME with an embedded store and says where it is', async () => {
    const home = path.join(tmp, 'nested', 'home');
    const r = await cli(['init', '--home', home]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Initialized a Cairn store in ${home}`);
    expect(r.stdout).toMatch(/driver\s+pglite/);
    expect(r.stdout).toContain(path.join(home, 'db'));
    expect(fs.existsSync(path.join(home, 'db', 'PG_VERSION'))).toBe(true);
    // The store was closed: its lock is gone.
    expect(fs.existsSync(path.join(home, 'db.lock'))).toBe(false);

    // CAIRN_HOME works like --home; a second init is harmless.
    const again = await cli(['init', '--json'], { env: { CAIRN_HOME: home } });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ driver: 'pglite', location: path.join(home, 'db'), home, created: false });
  });

  it.runIf(process.env.DATABASE_URL)('creates the schema in PostgreSQL with --db', async () => {
    const pg = testDrivers().find((e) => e.name === 'postgres')!;
    try {
      const { url } = await pg.fresh();
      const r = await cli(['init', '--db', url!, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ driver: 'postgres', home: null, created: null });
    } finally {
      await pg.cleanup();
    }
  });
});

describe('errors and exit codes', () => {
  it('exits 2 with one line for an unknown option', async () => {
    const r = await cli(['runs', 'list', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual(["cairn: unknown option '--bogus'; see 'cairn runs list --help'"]);
  });

  it('exits 2 for a bad --limit and for --home with --db', async () => {
    const limit = await cli(['runs', 'list', '--limit', 'many']);
    expect(limit.code).toBe(2);
    expect(lines(limit.stderr)).toHaveLength(1);
    expect(limit.stderr).toMatch(/^cairn: option '-n, --limit <n>' argument 'many' is invalid/);
    const both = await cli(['--home', tmp, '--db', 'postgres://localhost/x', 'experiments', 'list']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with/);
  });

  it('exits 1 and says to run init when CAIRN_HOME has no store', async () => {
    const empty = path.join(tmp, 'empty');
    const r = await cli(['experiments', 'list', '--home', empty]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      `cairn: no Cairn store in ${empty}: run 'cairn init' to create one, or point --home (CAIRN_HOME) or --db (DATABASE_URL) at your store`,
    ]);
    expect(fs.existsSync(empty)).toBe(false);
  });

  it('exits 1 telling what to do when another process holds the embedded store', async () => {
    const home = path.join(tmp, 'locked');
    const store = await openStore({ home });
    try {
      const r = await cli(['runs', 'list', '--home', home]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const [line, ...rest] = lines(r.stderr);
      expect(rest).toEqual([]);
      expect(line).toMatch(/^cairn: the embedded store at .* is in use by process \d+/);
      expect(line).toMatch(/keep a long-lived Cairn process running \('cairn ui' or 'cairn worker'\).*, or point DATABASE_URL at PostgreSQL$/);
    } finally {
      await store.close();
    }
  });

  it('runs from the bin script', async () => {
    const bin = fileURLToPath(new URL('../bin/cairn.js', import.meta.url));
    const { stdout } = await promisify(execFile)(bin, ['--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
