import { defineConfig, mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.ts';

/**
 * Unit tests for the portal's pure logic (URL state, markdown, diffs) and its components
 * rendered with react-dom/server: no DOM, no server. JSX compiles to the production
 * runtime (react/jsx-runtime), which works with both of React's builds, so a test can
 * time the production build the portal ships (components/Markdown.large-notes.test.ts).
 */
export default mergeConfig(shared, defineConfig({ oxc: { jsx: { development: false } }, test: { include: ['src/**/*.test.ts'] } }));
