import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql, type SQL } from 'drizzle-orm';
import { StoreDamagedError, StoreUnreachableError, tables } from '@cairn/schema';
import { redactUrl, type StoreLocation } from './config.ts';
import { acquireDirLock } from './lock.ts';
import type { Engine } from './types.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof tables>;

export interface OpenedEngine {
  engine: Engine;
  location: string;
  db: Db;
  close(): Promise<void>;
}

export const migrationsFolder = fileURLToPath(new URL('../../schema/migrations', import.meta.url));

/** Runs a raw drizzle SQL chunk and returns its rows (both drivers put them in `.rows`). */
export async function rows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

export async function openEngine(loc: StoreLocation, opts: { migrate: boolean; poolSize: number; connectTimeoutMs: number }): Promise<OpenedEngine> {
  return loc.engine === 'pglite' ? openPglite(loc.home, loc.dataDir, opts.migrate) : openPostgres(loc.url, opts);
}

async function openPglite(home: string, dataDir: string, migrate: boolean): Promise<OpenedEngine> {
  fs.mkdirSync(home, { recursive: true });
  const release = acquireDirLock(path.join(home, 'db.lock'), dataDir);
  let client: PGlite;
  try {
    const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
    if (!fresh || fs.existsSync(dataDir)) assertLooksLikePgliteDir(dataDir, fresh);
    client = await PGlite.create(dataDir);
  } catch (e) {
    release();
    if (e instanceof StoreDamagedError) throw e;
    throw new StoreDamagedError(
      `the embedded store at ${dataDir} could not be opened (${errorText(e)}); Cairn left it untouched: move it aside to start afresh, or restore it from a backup`,
      { cause: e },
    );
  }
  const db = drizzlePglite(client, { schema: tables }) as unknown as Db;
  try {
    if (migrate) await migratePglite(db as never, { migrationsFolder });
  } catch (e) {
    await client.close().catch(() => {});
    release();
    throw new StoreDamagedError(`the embedded store at ${dataDir} could not be migrated: ${errorText(e)}`, { cause: e });
  }
  await analyzeStaleTables(client);
  return {
    engine: 'pglite',
    location: dataDir,
    db,
    async close() {
      try {
        if (!client.closed) await client.close();
      } finally {
        release();
      }
    },
  };
}

/**
 * PGlite runs no autovacuum, so nothing would ever refresh the planner's statistics
 * and searches would be planned for empty tables. On open, tables that grew by more
 * than a fifth (in pages) since their last ANALYZE are analysed; ANALYZE samples, so
 * it stays cheap. (Activity counters do not survive a PGlite restart; sizes do.)
 */
async function analyzeStaleTables(client: PGlite): Promise<void> {
  const stale = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r'
       AND pg_relation_size(c.oid) / current_setting('block_size')::int > 1.2 * greatest(c.relpages, 0) + 8`,
  );
  for (const { relname } of stale.rows) {
    // relname comes from the catalog, quoted as an identifier.
    await client.exec(`ANALYZE "${relname.replace(/"/g, '""')}"`);
  }
}

/** A data directory we did not create, or one missing files PostgreSQL needs, is refused before PGlite touches it. */
function assertLooksLikePgliteDir(dataDir: string, fresh: boolean): void {
  if (fresh) {
    const entries = fs.readdirSync(dataDir);
    if (entries.length > 0) {
      throw new StoreDamagedError(
        `${dataDir} exists but is not a Cairn store (no PG_VERSION; it holds ${entries.length} entries); Cairn left it untouched: move it aside or set CAIRN_HOME elsewhere`,
      );
    }
    return;
  }
  for (const required of ['global', 'base', 'pg_wal']) {
    if (!fs.existsSync(path.join(dataDir, required))) {
      throw new StoreDamagedError(
        `the embedded store at ${dataDir} is damaged ('${required}' is missing); Cairn left it untouched: restore it from a backup or move it aside`,
      );
    }
  }
}

async function openPostgres(url: string, opts: { migrate: boolean; poolSize: number; connectTimeoutMs: number }): Promise<OpenedEngine> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    // Idle clients must not keep a finished CLI or training process alive.
    allowExitOnIdle: true,
    // Filtered searches are planned at costs above the JIT thresholds, and compiling
    // took 150–200 ms of a 400 ms query; these queries are short, so JIT only costs.
    options: '-c jit=off',
    // int8 as number, like PGlite; Cairn's int8 columns (steps, counts, ms) stay below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that errors (server restart) must not crash the process.
  pool.on('error', () => {});
  const where = redactUrl(url);
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => {});
    throw new StoreUnreachableError(`cannot reach PostgreSQL at ${where} (${errorText(e)}): start the server or fix DATABASE_URL`, { cause: e });
  }
  const db = drizzlePg(pool, { schema: tables }) as unknown as Db;
  if (opts.migrate) {
    // Several processes may open the same database at once; one migrates, the rest wait.
    const lockClient = await pool.connect();
    try {
      await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await migratePg(db as never, { migrationsFolder });
    } catch (e) {
      await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
      lockClient.release();
      await pool.end().catch(() => {});
      throw new StoreDamagedError(`could not migrate PostgreSQL at ${where}: ${errorText(e)}`, { cause: e });
    }
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    lockClient.release();
  }
  let closed = false;
  return {
    engine: 'postgres',
    location: where,
    db,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

const MIGRATION_LOCK = 0x6361_6972; // "cair"

function errorText(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length) return errorText(e.errors[0]);
  const err = e as { code?: string; message?: string };
  const msg = err?.message || String(e);
  return err?.code && !msg.includes(err.code) ? `${err.code}: ${msg}` : msg;
}

export { sql };
