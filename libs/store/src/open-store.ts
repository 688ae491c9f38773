import { openDriver } from './driver.ts';
import { resolveLocation, type OpenStoreOptions } from './config.ts';
import { SqlStore } from './sql-store.ts';
import { withUnreachableErrors } from './connection-errors.ts';
import type { Store } from './types.ts';

/**
 * Opens the tracking store: PostgreSQL when `url` or DATABASE_URL is a postgres://
 * URL, otherwise the embedded store under CAIRN_HOME (default ./.cairn). Migrations
 * are applied on open.
 *
 * The embedded store is reached through the process hosting it when there is one
 * (a long-lived Cairn process that called hostEmbeddedStore: see host.ts), over
 * `pg` like PostgreSQL, with `driver` 'pglite' and `location` its data directory.
 * Otherwise this process opens PGlite itself and holds CAIRN_HOME's lock until
 * close(); a second process then gets STORE_LOCKED.
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const location = resolveLocation(options);
  const opened = await openDriver(location, {
    migrate: options.migrate ?? true,
    poolSize: options.poolSize ?? 8,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
  });
  const store = new SqlStore(opened);
  // PGlite in process has no connection to lose; PostgreSQL's or a host's dropped connections become STORE_UNREACHABLE.
  return opened.remote ? withUnreachableErrors(store, opened.location, opened.remote) : store;
}
