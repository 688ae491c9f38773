import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each CLI run is a child process: tsx compiles the source and PGlite loads its WASM (1–3 s).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
