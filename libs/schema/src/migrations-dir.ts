import { fileURLToPath } from 'node:url';

/**
 * The folder of SQL migrations generated from the tables (drizzle-kit), found beside
 * this package's own source so that it holds wherever the package is installed.
 * A subpath export (`@cairn/schema/migrations`) keeps node:url out of the main entry,
 * which browser bundles import.
 */
export const MIGRATIONS_DIR: string = fileURLToPath(new URL('../migrations', import.meta.url));
