import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // PGlite's first open loads WASM (about 3 s); database tests need room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
