import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.ts';

/** Unit tests for the portal's pure logic (URL state, markdown, diffs): no DOM, no server. */
export default mergeConfig(shared, defineConfig({ test: { include: ['src/**/*.test.ts'] } }));
