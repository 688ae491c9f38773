import { openEngine } from './engine.ts';
import { resolveLocation, type OpenStoreOptions } from './config.ts';
import { SqlStore } from './sql-store.ts';
import { withUnreachableErrors } from './connection-errors.ts';
import type { Store } from './types.ts';

/**
 * Opens the tracking store: PostgreSQL when `url` or DATABASE_URL is a postgres://
 * URL, otherwise embedded PGlite under CAIRN_HOME (default ./.cairn). Migrations
 * are applied on open.
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const location = resolveLocation(options);
  const opened = await openEngine(location, {
    migrate: options.migrate ?? true,
    poolSize: options.poolSize ?? 8,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
  });
  const store = new SqlStore(opened);
  // PGlite has no connection to lose; PostgreSQL's dropped connections become STORE_UNREACHABLE.
  return opened.engine === 'postgres' ? withUnreachableErrors(store, opened.location) : store;
}
