import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';
import type { tables } from '@cairn/schema';

/** Which database driver a store runs on: embedded PGlite or a PostgreSQL server. */
export type StoreDriver = 'pglite' | 'postgres';

/** The drizzle database both drivers give: the same SQL runs on either. */
export type Db = PgDatabase<PgQueryResultHKT, typeof tables>;

/** Runs a raw drizzle SQL chunk and returns its rows (both drivers put them in `.rows`). */
export async function rows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
