import { defineConfig } from 'vitest/config';

/**
 * Settings every project's vitest config starts from. Store tests open PGlite
 * (a WASM load of about 3 s) and PostgreSQL databases, so timeouts are generous;
 * forks keep PGlite instances apart; two workers match this 2-core machine.
 */
export const shared = defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
