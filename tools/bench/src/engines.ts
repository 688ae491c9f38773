import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { openStore, type Store } from '@cairn/store';
import { testDrivers, type TestDriver } from '@cairn/store/testing';
import type { EngineName } from './report.ts';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Where one benchmark database lives: a PGlite home directory or a PostgreSQL URL. */
export interface Place {
  home?: string;
  url?: string;
}

/** What COPY sends: the text-format rows, encoded for the engine ahead of the timed section. */
export type CopyPayload = Buffer | Blob;

/**
 * Raw SQL on a benchmark database, beside the store: a plain pg.Client, or PGlite
 * opened directly on the store's data directory (only while the store is closed:
 * PGlite is single-process, single-open).
 */
export interface Raw {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Encodes text-format COPY rows for `copy` (done outside timed sections). */
  payload(text: string): CopyPayload;
  /** `COPY <target> FROM STDIN` (PostgreSQL) or `FROM '/dev/blob'` (PGlite), text format. */
  copy(target: string, data: CopyPayload): Promise<void>;
  close(): Promise<void>;
}

export interface BenchEngine {
  name: EngineName;
  /** e.g. "PostgreSQL 15.20" or "PGlite 0.5.14 (PostgreSQL 18.6)". */
  version: string;
  /** A new, empty, migrated database, with the store open on it. */
  create(): Promise<{ place: Place; store: Store }>;
  openStore(place: Place): Promise<Store>;
  openRaw(place: Place): Promise<Raw>;
  /** Closes what is still open and drops the databases / removes the directories. Safe to call twice. */
  cleanup(): Promise<void>;
}

// int8 as a JS number, as the store does (steps, counts and ms stay below 2^53).
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** The server version, or throws when PostgreSQL cannot be reached in a few seconds. */
export async function probePostgres(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.query<{ server_version: string }>('SHOW server_version');
    return `PostgreSQL ${r.rows[0]!.server_version.split(' ')[0]}`;
  } finally {
    await c.end().catch(() => {});
  }
}

/** "PGlite 0.5.14 (PostgreSQL 18.6)", from an in-memory instance. */
export async function probePglite(): Promise<string> {
  const db = await PGlite.create();
  try {
    const r = await db.query<{ version: string }>('SELECT version()');
    const v = r.rows[0]!.version;
    const pgv = /PostgreSQL ([\d.]+)/.exec(v)?.[1] ?? '?';
    const litev = /PGlite ([\w.-]+)/.exec(v)?.[1] ?? '?';
    return `PGlite ${litev} (PostgreSQL ${pgv})`;
  } finally {
    await db.close();
  }
}

export function pgliteDataDir(place: Place): string {
  if (!place.home) throw new Error('not a PGlite place');
  return path.join(place.home, 'db');
}

const live = new Set<BenchEngine>();
let hooked = false;
let interruptedBy: NodeJS.Signals | null = null;

/** The signal that is ending this process, if any (errors after it are just its side effects). */
export function interrupted(): NodeJS.Signals | null {
  return interruptedBy;
}

/** On Ctrl-C or SIGTERM, drop every database and temp directory before exiting. */
function installSignalCleanup(): void {
  if (hooked) return;
  hooked = true;
  const onSignal = (signal: NodeJS.Signals) => {
    interruptedBy = signal;
    console.error(`\n${signal}: cleaning up benchmark databases…`);
    void Promise.allSettled([...live].map((e) => e.cleanup())).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/**
 * A benchmark engine over `@cairn/store/testing`: every `create()` is a fresh temp
 * CAIRN_HOME (PGlite) or a fresh database next to `url`'s (PostgreSQL).
 */
export function benchEngine(name: EngineName, version: string, url: string): BenchEngine {
  installSignalCleanup();
  if (name === 'postgres') process.env.DATABASE_URL = url;
  const te: TestDriver | undefined = testDrivers().find((e) => e.name === name);
  if (!te) throw new Error(`no test engine '${name}'`);
  const stores = new Set<Store>();
  const raws = new Set<Raw>();

  const track = (store: Store): Store => {
    stores.add(store);
    const close = store.close.bind(store);
    // Closing twice is harmless, and a closed store is no longer cleaned up.
    let closing: Promise<void> | undefined;
    (store as { close: () => Promise<void> }).close = () => {
      stores.delete(store);
      return (closing ??= close());
    };
    return store;
  };

  const openStoreAt = async (place: Place) =>
    track(name === 'postgres' ? await openStore({ url: place.url! }) : await openStore({ home: place.home! }));

  const engine: BenchEngine = {
    name,
    version,
    async create() {
      const place = await te.fresh();
      return { place, store: await openStoreAt(place) };
    },
    openStore: openStoreAt,
    async openRaw(place) {
      const raw = name === 'postgres' ? await rawPostgres(place.url!) : await rawPglite(pgliteDataDir(place));
      const close = raw.close.bind(raw);
      raws.add(raw);
      raw.close = () => {
        raws.delete(raw);
        return close();
      };
      return raw;
    },
    async cleanup() {
      for (const r of [...raws]) await r.close().catch(() => {});
      for (const s of [...stores]) await s.close().catch(() => {});
      if (process.env.CAIRN_BENCH_KEEP) return;
      await te.cleanup();
    },
  };
  live.add(engine);
  return engine;
}

async function rawPostgres(url: string): Promise<Raw> {
  const c = new pg.Client({ connectionString: url, types: pgTypes });
  c.on('error', () => {});
  await c.connect();
  let closed = false;
  return {
    async query<T>(text: string, params?: unknown[]) {
      return (await c.query(text, params)).rows as T[];
    },
    payload: (text) => Buffer.from(text),
    async copy(target, data) {
      await pipeline(Readable.from([data as Buffer]), c.query(copyFrom(`COPY ${target} FROM STDIN`)));
    },
    async close() {
      if (closed) return;
      closed = true;
      await c.end();
    },
  };
}

async function rawPglite(dataDir: string): Promise<Raw> {
  const db = await PGlite.create(dataDir);
  return {
    async query<T>(text: string, params?: unknown[]) {
      return (await db.query<T>(text, params)).rows;
    },
    payload: (text) => new Blob([text]),
    async copy(target, data) {
      await db.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: data as Blob });
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}

/**
 * The store and raw connections on one benchmark database. On PostgreSQL both stay
 * open side by side; on PGlite, asking for one closes the other first (single-open).
 */
export class Handles {
  #store: Store | undefined;
  #raws: Raw[] = [];

  constructor(
    readonly engine: BenchEngine,
    readonly place: Place,
    store?: Store,
  ) {
    this.#store = store;
  }

  async store(): Promise<Store> {
    if (this.engine.name === 'pglite') await this.closeRaws();
    return (this.#store ??= await this.engine.openStore(this.place));
  }

  /** `n` raw connections; on PGlite the one instance, `n` times (it serialises queries anyway). */
  async raws(n: number): Promise<Raw[]> {
    if (this.engine.name === 'pglite') {
      await this.closeStore();
      if (!this.#raws.length) this.#raws.push(await this.engine.openRaw(this.place));
      return Array.from({ length: n }, () => this.#raws[0]!);
    }
    while (this.#raws.length < n) this.#raws.push(await this.engine.openRaw(this.place));
    return this.#raws.slice(0, n);
  }

  async raw(): Promise<Raw> {
    return (await this.raws(1))[0]!;
  }

  async closeStore(): Promise<void> {
    const s = this.#store;
    this.#store = undefined;
    await s?.close();
  }

  async closeRaws(): Promise<void> {
    const list = this.#raws.splice(0);
    for (const r of list) await r.close();
  }

  async close(): Promise<void> {
    await this.closeRaws();
    await this.closeStore();
  }
}
