import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { StoreLockedError } from '@cairn/schema';
import { cairnHome, resolveLocation } from './config.ts';
import { openPgliteClient, pgliteDriver } from './driver.ts';
import { hostFilePath, liveHost, removeHostFile, writeHostFile, type HostInfo } from './host-file.ts';
import { openStore } from './open-store.ts';
import { servePglite } from './pglite-server.ts';
import { SqlStore } from './sql-store.ts';
import type { Store } from './types.ts';

export interface HostEmbeddedStoreOptions {
  /** CAIRN_HOME (default: env CAIRN_HOME, else ./.cairn). */
  home?: string;
  /** Port to serve on (default 0: any free port; the host file says which). */
  port?: number;
  /** Interface to serve on (default 127.0.0.1). Anything else exposes the store to the network, behind the password only. */
  host?: string;
  /**
   * When another live process already hosts this CAIRN_HOME: true (default) connects
   * to it, as openStore would, and returns `hosting: false`; false throws STORE_LOCKED.
   */
  join?: boolean;
  /** Apply migrations on open (default true). */
  migrate?: boolean;
  /**
   * A client that holds the store inside a transaction and sends nothing for this long
   * is rolled back and dropped, since every other process waits meanwhile (default 60 s; 0: never).
   */
  idleInTransactionMs?: number;
}

export interface HostedStore {
  /**
   * How other processes reach the store: `postgres://cairn:TOKEN@127.0.0.1:PORT/cairn`.
   * openStore({ home }) finds it by itself in CAIRN_HOME/host.json; pass it as
   * DATABASE_URL to a process that should not look there (then its store reports
   * driver 'postgres'). It carries a password: do not log it (redactUrl).
   */
  url: string;
  /** This process's store: PGlite in process, never through the socket. */
  store: Store;
  /** False when another process was already hosting and this one joined it (see `join`). */
  hosting: boolean;
  /** The host file (CAIRN_HOME/host.json). */
  hostFile: string;
  /** Connections from other processes now (0 when joined). */
  readonly connections: number;
  /**
   * Stops serving (other processes' connections are dropped, their open transactions
   * rolled back; their next call fails with STORE_UNREACHABLE), removes the host file,
   * closes PGlite and releases the lock. Idempotent; also done by `store.close()`.
   */
  close(): Promise<void>;
}

/**
 * Hosts the embedded store of CAIRN_HOME so that several processes can use it at once.
 *
 * PGlite is one process's: its directory is locked by the process that opens it. A
 * long-lived Cairn process (`cairn ui`, `cairn up`, `cairn worker`) calls this instead
 * of openStore: it opens PGlite itself (taking CAIRN_HOME/db.lock, applying
 * migrations), serves it over the PostgreSQL wire protocol on a loopback port
 * (pglite-server.ts: connections are multiplexed, each query or transaction runs
 * whole before the next), and publishes `{ pid, host, port, url, startedAt, … }` in
 * CAIRN_HOME/host.json (written atomically, mode 0600, removed on close and at exit).
 * Every other process's `openStore({ home })` then finds the host file and connects
 * with `pg`, as to PostgreSQL; a CLI command started meanwhile works as usual.
 *
 * The returned `store` is PGlite in this process (no TCP to itself); its queries and
 * the other processes' are serialized by PGlite's own mutex.
 *
 * What it does not do: hand the store over when the host stops. Processes connected
 * to it lose it (STORE_UNREACHABLE); the next openStore opens PGlite itself or joins
 * a new host. A host killed with SIGKILL leaves its host file and lock behind; both
 * are recognised as stale (same machine, pid gone) and taken over by the next opener.
 *
 * Throws STORE_LOCKED when a process that does not host (a running CLI command) holds
 * the store, or when another process hosts it and `join` is false; NOT_FOUND-like
 * errors are not raised here: a missing store is created, as openStore does.
 */
export async function hostEmbeddedStore(options: HostEmbeddedStoreOptions = {}): Promise<HostedStore> {
  const home = cairnHome(options.home);
  const location = resolveLocation({ home });
  if (location.driver !== 'pglite') throw new Error('unreachable: a home always resolves to the embedded store');

  const existing = liveHost(home);
  if (existing?.pid === process.pid) {
    throw new StoreLockedError(`this process already hosts the embedded store at ${location.dataDir}: use the store hostEmbeddedStore returned then`);
  }
  if (existing) {
    if (options.join === false) {
      throw new StoreLockedError(`the embedded store at ${location.dataDir} is already hosted by process ${existing.pid} (${existing.command}) on ${existing.host}:${existing.port}`);
    }
    return joined(existing, home);
  }

  let local;
  try {
    local = await openPgliteClient(home, location.dataDir, options.migrate ?? true, 'host');
  } catch (e) {
    // Another process became the host meanwhile (it holds the lock): join it like openStore would.
    if (e instanceof StoreLockedError && options.join !== false) {
      const store = await openStore({ home, migrate: options.migrate });
      const host = liveHost(home);
      if (host) return joinedWith(store, host, home);
      await store.close();
    }
    throw e;
  }

  const password = randomBytes(18).toString('base64url');
  let server;
  try {
    server = await servePglite(local.client, {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      password,
      idleInTransactionMs: options.idleInTransactionMs,
    });
  } catch (e) {
    await local.client.close().catch(() => undefined);
    local.release();
    throw e;
  }
  const srv = server;
  const urlHost = srv.host.includes(':') ? `[${srv.host}]` : srv.host;
  const info: HostInfo = {
    pid: process.pid,
    host: srv.host,
    port: srv.port,
    url: `postgres://cairn:${password}@${urlHost}:${srv.port}/cairn`,
    startedAt: new Date().toISOString(),
    hostname: os.hostname(),
    dataDir: location.dataDir,
    command: processLabel(),
  };
  writeHostFile(home, info);
  // An exit without close() (process.exit, an uncaught error) must not leave a host
  // file pointing at nothing; SIGKILL can, and readers check the pid for that.
  const onExit = () => removeHostFile(home, process.pid);
  process.on('exit', onExit);

  const driver = pgliteDriver(local, async () => {
    process.off('exit', onExit);
    // Unpublished first, so that no process connects to a host that is going away:
    // openers meanwhile see the lock (role 'host') and wait for it.
    removeHostFile(home, process.pid);
    await srv.close();
  });
  const store = new SqlStore(driver);
  return {
    url: info.url,
    store,
    hosting: true,
    hostFile: hostFilePath(home),
    get connections() {
      return srv.connections;
    },
    close: () => store.close(),
  };
}

async function joined(host: HostInfo, home: string): Promise<HostedStore> {
  return joinedWith(await openStore({ home }), host, home);
}

function joinedWith(store: Store, host: HostInfo, home: string): HostedStore {
  return { url: host.url, store, hosting: false, hostFile: hostFilePath(home), connections: 0, close: () => store.close() };
}

/** `cairn worker`, `cairn ui`: what the lock and host file say is holding the store. */
function processLabel(): string {
  const script = process.argv[1] ?? '';
  const name = script.split(/[\\/]/).pop() ?? '';
  return [name, ...process.argv.slice(2, 3)].filter(Boolean).join(' ') || 'node';
}
