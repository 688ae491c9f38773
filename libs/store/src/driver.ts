import fs from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { StoreDamagedError, StoreLockedError, StoreUnreachableError, tables } from '@cairn/schema';
import { MIGRATIONS_DIR } from '@cairn/schema/migrations';
import { redactUrl, type StoreLocation } from './config.ts';
import { liveHost, removeHostFile, type HostInfo } from './host-file.ts';
import { acquireDirLock, isAlive, readLock } from './lock.ts';
import type { Db, StoreDriver } from './db.ts';

export interface OpenedDriver {
  driver: StoreDriver;
  location: string;
  db: Db;
  /**
   * Set when the database is reached over a connection that can be lost: what to call
   * it when it cannot be reached ("PostgreSQL at …", "the embedded store at …, hosted by …").
   */
  remote?: string;
  close(): Promise<void>;
}

type DriverOptions = { migrate: boolean; poolSize: number; connectTimeoutMs: number };

export async function openDriver(loc: StoreLocation, opts: DriverOptions): Promise<OpenedDriver> {
  return loc.driver === 'pglite' ? openEmbedded(loc.home, loc.dataDir, opts) : openPostgres(loc.url, opts);
}

// How long an opener waits for a hosting process that holds the lock but has not
// published its address yet (PGlite and migrations take seconds to start), or is stopping.
const HOST_WAIT_MS = 30_000;

/**
 * The embedded store: through the process that hosts it when one does (host.ts),
 * otherwise PGlite in this process, which takes the directory lock. A host file whose
 * process is gone is ignored; its lock is taken over like any stale lock.
 */
async function openEmbedded(home: string, dataDir: string, opts: DriverOptions): Promise<OpenedDriver> {
  const deadline = Date.now() + HOST_WAIT_MS;
  for (;;) {
    const host = liveHost(home);
    if (host) {
      try {
        return await openHosted(host, dataDir, opts);
      } catch (e) {
        // Refused: the host is stopping (or its pid now belongs to another program);
        // the lock decides below whether to wait or take the store over.
        if (!(e instanceof StoreUnreachableError)) throw e;
      }
    }
    try {
      const local = await openPgliteClient(home, dataDir, opts.migrate);
      return pgliteDriver(local);
    } catch (e) {
      if (!(e instanceof StoreLockedError)) throw e;
      const owner = readLock(path.join(home, 'db.lock'));
      if (owner?.role !== 'host' || !isAlive(owner.pid) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A store served by another process (host.ts): `pg`, exactly as PostgreSQL; messages name the directory and the host. */
async function openHosted(host: HostInfo, dataDir: string, opts: DriverOptions): Promise<OpenedDriver> {
  const label = `the embedded store at ${dataDir} hosted by process ${host.pid} (${host.command || 'node'}) on ${host.host}:${host.port}`;
  const opened = await openPostgres(host.url, opts, label);
  return { ...opened, driver: 'pglite', location: dataDir, remote: label };
}

/** PGlite open in this process, with its directory lock. */
export interface LocalPglite {
  client: PGlite;
  db: Db;
  dataDir: string;
  release: () => void;
}

/**
 * Opens PGlite in this process: takes CAIRN_HOME's lock (role 'host' when the caller
 * will serve it to others), checks and opens the directory, applies migrations.
 */
export async function openPgliteClient(home: string, dataDir: string, migrate: boolean, role?: 'host'): Promise<LocalPglite> {
  // PGlite (its WebAssembly Postgres) and its drizzle glue load here, on first use: a
  // command on PostgreSQL never pays for them (a few hundred ms of every CLI start).
  const [{ PGlite: Pglite }, { drizzle: drizzlePglite }, { migrate: migratePglite }, { PrivateNodeFS, makePrivate }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
    import('./private-files.ts'),
  ]);
  fs.mkdirSync(home, { recursive: true });
  const release = acquireDirLock(path.join(home, 'db.lock'), dataDir, role);
  // Only the lock holder publishes a host file: one left behind is a dead host's.
  removeHostFile(home);
  let client: PGlite;
  try {
    const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
    if (!fresh || fs.existsSync(dataDir)) assertLooksLikePgliteDir(dataDir, fresh);
    // Before PGlite touches it: a new store is created private, an older one made so.
    makePrivate(dataDir);
    client = await Pglite.create({ dataDir, fs: new PrivateNodeFS(dataDir) });
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
    if (migrate) await migratePglite(db as never, { migrationsFolder: MIGRATIONS_DIR });
  } catch (e) {
    await client.close().catch(() => {});
    release();
    throw new StoreDamagedError(`the embedded store at ${dataDir} could not be migrated: ${errorText(e)}`, { cause: e });
  }
  await analyzeStaleTables(client);
  return { client, db, dataDir, release };
}

/** The driver over a local PGlite; `beforeClose` runs first (the host stops serving). */
export function pgliteDriver(local: LocalPglite, beforeClose?: () => Promise<void>): OpenedDriver {
  const { client, db, dataDir, release } = local;
  let closing: Promise<void> | null = null;
  return {
    driver: 'pglite',
    location: dataDir,
    db,
    close() {
      closing ??= (async () => {
        try {
          await beforeClose?.();
          if (!client.closed) await client.close();
        } finally {
          release();
        }
      })();
      return closing;
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

async function openPostgres(url: string, opts: DriverOptions, label?: string): Promise<OpenedDriver> {
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
  // An idle client that errors (server restart) must not crash the process; nor one that
  // is checked out (inside a transaction, between two statements of a fenced write) when
  // its connection resets: its next query fails instead, as a connection error.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const where = redactUrl(url);
  const what = label ?? `PostgreSQL at ${where}`;
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => {});
    throw new StoreUnreachableError(`cannot reach ${what} (${errorText(e)}): ${label ? 'is that process still running?' : 'start the server or fix DATABASE_URL'}`, { cause: e });
  }
  const db = drizzlePg(pool, { schema: tables }) as unknown as Db;
  if (opts.migrate) {
    // Several processes may open the same database at once; one migrates, the rest wait.
    const lockClient = await pool.connect();
    try {
      await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await migratePg(db as never, { migrationsFolder: MIGRATIONS_DIR });
    } catch (e) {
      await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
      lockClient.release();
      await pool.end().catch(() => {});
      throw new StoreDamagedError(`could not migrate ${what}: ${errorText(e)}`, { cause: e });
    }
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    lockClient.release();
  }
  let closed = false;
  return {
    driver: 'postgres',
    location: where,
    remote: what,
    db,
    async close() {
      if (closed) return;
      closed = true;
      await endWithin(pool, CLOSE_GRACE_MS);
    },
  };
}

/** How long close() waits for connections still checked out before it cuts them. */
export const CLOSE_GRACE_MS = 5_000;

/**
 * pool.end() waits for every checked-out connection to come back. One that never does
 * must not hold a process's stop forever: a worker whose PostgreSQL connection was cut
 * mid-run was seen (about 1 run in 10 under load, on the fast native trainer) waiting in
 * close() with no socket left open, its pool still counting a client. After the grace
 * period the clients still out are destroyed and close() returns.
 */
async function endWithin(pool: pg.Pool, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = pool.end().then(() => true);
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
  const done = await Promise.race([ended, late]).finally(() => clearTimeout(timer));
  if (done) return;
  // pg-pool keeps its clients in `_clients`; a client's socket is its connection's stream.
  const out = (pool as unknown as { _clients?: { connection?: { stream?: { destroy(): void } } }[] })._clients ?? [];
  for (const c of out) c.connection?.stream?.destroy();
}

const MIGRATION_LOCK = 0x6361_6972; // "cair"


function errorText(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length) return errorText(e.errors[0]);
  const err = e as { code?: string; message?: string };
  const msg = err?.message || String(e);
  return err?.code && !msg.includes(err.code) ? `${err.code}: ${msg}` : msg;
}

