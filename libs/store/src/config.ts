import path from 'node:path';
import { z } from 'zod';
import { ValidationError, formatZodError } from '@cairn/schema';

/** Where a store lives: embedded PGlite in a directory, or PostgreSQL by URL. */
export type StoreLocation = { driver: 'pglite'; dataDir: string; home: string } | { driver: 'postgres'; url: string };

export const openStoreOptionsSchema = z.object({
  /** `postgres://…` for PostgreSQL; omitted → DATABASE_URL, else PGlite under `home`. */
  url: z.string().optional(),
  /** CAIRN_HOME override (default: env CAIRN_HOME, else ./.cairn). */
  home: z.string().optional(),
  /** Apply migrations on open (default true). */
  migrate: z.boolean().optional(),
  /** PostgreSQL pool size (default 8). */
  poolSize: z.number().int().min(1).max(100).optional(),
  /** Give up connecting to PostgreSQL after this long (default 5000 ms). */
  connectTimeoutMs: z.number().int().min(100).optional(),
});
export type OpenStoreOptions = z.input<typeof openStoreOptionsSchema>;

export function cairnHome(home?: string): string {
  return path.resolve(home ?? process.env.CAIRN_HOME ?? '.cairn');
}

export function resolveLocation(options: OpenStoreOptions = {}, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  const parsed = openStoreOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError(`invalid store options: ${formatZodError(parsed.error)}`);
  const url = options.url ?? (options.home ? undefined : env.DATABASE_URL || undefined);
  if (url && /^postgres(ql)?:\/\//.test(url)) return { driver: 'postgres', url };
  if (url) {
    throw new ValidationError(
      `unsupported database URL '${redactUrl(url)}': use postgres://user@host:port/db, or unset DATABASE_URL for the embedded store`,
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
