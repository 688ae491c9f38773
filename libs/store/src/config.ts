import path from 'node:path';
import { z } from 'zod';
import { ValidationError, formatZodError } from '@cairn/schema';

/** Where a store lives: embedded PGlite in a directory, or PostgreSQL by URL. */
export type StoreLocation = { driver: 'pglite'; dataDir: string; home: string } | { driver: 'postgres'; url: string };

export const openStoreOptionsSchema = z.object({
  /** `postgres://…` for PostgreSQL; omitted → PGlite under `home` (the app passes DATABASE_URL here: libs read no environment). */
  url: z.string().optional(),
  /** The embedded store's Cairn home (the app passes --home or CAIRN_HOME; default ./.cairn). */
  home: z.string().optional(),
  /** Apply migrations on open (default true). */
  migrate: z.boolean().optional(),
  /** PostgreSQL pool size (default 8). */
  poolSize: z.number().int().min(1).max(100).optional(),
  /** Give up connecting to PostgreSQL after this long (default 5000 ms). */
  connectTimeoutMs: z.number().int().min(100).optional(),
});
export type OpenStoreOptions = z.input<typeof openStoreOptionsSchema>;

/** The Cairn home: `home` as the app resolved it (--home, CAIRN_HOME), else ./.cairn; absolute. */
export function cairnHome(home?: string): string {
  return path.resolve(home || '.cairn');
}

export function resolveLocation(options: OpenStoreOptions = {}): StoreLocation {
  const parsed = openStoreOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError(`invalid store options: ${formatZodError(parsed.error)}`);
  const url = options.url || undefined;
  if (url && /^postgres(ql)?:\/\//.test(url)) return { driver: 'postgres', url };
  if (url) {
    throw new ValidationError(
      `unsupported database URL '${redactUrl(url)}': use postgres://user@host:port/db, or unset DATABASE_URL (and --db) for the embedded store`,
    );
  }
  const home = cairnHome(options.home);
  return { driver: 'pglite', home, dataDir: path.join(home, 'db') };
}

/** The URL without its password, for messages and `location`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:\/\/([^:@/]+):[^@/]*@/, '://$1:***@');
  }
}
