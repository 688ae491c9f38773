import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.ts';

/**
 * Browser end-to-end tests of the portal (e2e/): a production build (made once, only when
 * the sources changed: e2e/global-setup.ts), `next start` against a fresh store, and
 * headless Debian chromium. One file at a time: each starts its own portal and browser.
 */
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ['e2e/**/*.test.ts'],
      globalSetup: ['e2e/global-setup.ts'],
      fileParallelism: false,
      maxWorkers: 1,
      testTimeout: 60_000,
      hookTimeout: 180_000,
    },
  }),
);
