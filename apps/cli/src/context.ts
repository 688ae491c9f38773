import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CairnError } from '@cairn/schema';
import { openStore, resolveLocation, type OpenStoreOptions, type Store } from '@cairn/store';
import { cliConfig } from './config.ts';

/** Options every command takes (declared on the program). */
export interface GlobalOptions {
  home?: string;
  db?: string;
}

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  return { home: o.home, db: o.db };
}

/**
 * --db wins, then --home; without either, DATABASE_URL and then CAIRN_HOME (default
 * ./.cairn). --home picks the embedded store even when DATABASE_URL is set.
 */
export function storeOptions(g: GlobalOptions): OpenStoreOptions {
  if (g.db) return { url: g.db };
  if (g.home) return { home: g.home };
  const c = cliConfig();
  return { ...(c.databaseUrl ? { url: c.databaseUrl } : {}), ...(c.home ? { home: c.home } : {}) };
}

/**
 * Opens the store, runs `fn`, and always closes it: PGlite holds a lock on
 * CAIRN_HOME until then. Only `cairn init` creates an embedded store; the other
 * commands refuse a CAIRN_HOME that has none, instead of leaving an empty
 * .cairn in whatever directory they were run from.
 */
export async function withStore<T>(g: GlobalOptions, fn: (store: Store) => Promise<T>, options: { create?: boolean } = {}): Promise<T> {
  const opts = storeOptions(g);
  if (!options.create) assertStoreExists(opts);
  const store = await openStore(opts);
  let result: T;
  try {
    result = await fn(store);
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  await store.close();
  return result;
}

/** Throws NOT_FOUND when the options name an embedded store that `cairn init` has not created. */
export function assertStoreExists(opts: OpenStoreOptions): void {
  const loc = resolveLocation(opts);
  if (loc.driver !== 'pglite') return;
  if (fs.existsSync(path.join(loc.dataDir, 'PG_VERSION'))) return;
  throw new CairnError(
    'NOT_FOUND',
    `no Cairn store in ${loc.home}: run 'cairn init' to create one, or point --home (CAIRN_HOME) or --db (DATABASE_URL) at your store`,
  );
}
