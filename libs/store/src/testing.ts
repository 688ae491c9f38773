import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from './open-store.ts';
import type { Store } from './types.ts';

/**
 * Drivers for tests: PGlite always, PostgreSQL too when DATABASE_URL is set (CI sets
 * it). Each `open()` gets a fresh, empty store: a temp CAIRN_HOME, or a new database
 * created next to DATABASE_URL's, dropped again by `cleanup()`.
 */
export interface TestDriver {
  name: 'pglite' | 'postgres';
  open(): Promise<Store>;
  /** A fresh location (home dir or URL) without opening it. */
  fresh(): Promise<{ home?: string; url?: string }>;
  cleanup(): Promise<void>;
}

export function testDrivers(): TestDriver[] {
  const list: TestDriver[] = [pgliteDriver()];
  if (process.env.DATABASE_URL) list.push(postgresDriver(process.env.DATABASE_URL));
  return list;
}

function pgliteDriver(): TestDriver {
  const dirs: string[] = [];
  const stores: Store[] = [];
  const fresh = async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-test-'));
    dirs.push(home);
    return { home };
  };
  return {
    name: 'pglite',
    fresh,
    async open() {
      const { home } = await fresh();
      const store = await openStore({ home });
      stores.push(store);
      return store;
    },
    async cleanup() {
      for (const s of stores.splice(0)) await s.close().catch(() => {});
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

function postgresDriver(baseUrl: string): TestDriver {
  const created: string[] = [];
  const stores: Store[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>) => {
    const c = new pg.Client({ connectionString: baseUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const fresh = async () => {
    const name = `cairn_t_${randomBytes(6).toString('hex')}`;
    // The name is generated here from hex digits, never from input.
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    created.push(name);
    const u = new URL(baseUrl);
    u.pathname = `/${name}`;
    return { url: u.toString() };
  };
  return {
    name: 'postgres',
    fresh,
    async open() {
      const { url } = await fresh();
      const store = await openStore({ url });
      stores.push(store);
      return store;
    },
    async cleanup() {
      for (const s of stores.splice(0)) await s.close().catch(() => {});
      const names = created.splice(0);
      if (names.length) await admin(async (c) => {
        for (const n of names) await c.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
      });
    },
  };
}

/**
 * A fresh, empty PostgreSQL database for tests that need the real server (fault tests):
 * next to DATABASE_URL's, else next to the local default; when neither answers, a clear
 * error naming what to do rather than a skip. `drop()` removes it.
 */
export async function testPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const probe = new pg.Client({ connectionString: base, connectionTimeoutMillis: 3_000 });
  try {
    await probe.connect();
  } catch (e) {
    throw new Error(`these tests need PostgreSQL and none answers at ${base} (${(e as Error).message}): start one (apt-get install -y postgresql) or set DATABASE_URL`);
  } finally {
    await probe.end().catch(() => {});
  }
  const driver = postgresDriver(base);
  const { url } = await driver.fresh();
  return { url: url!, drop: () => driver.cleanup() };
}
