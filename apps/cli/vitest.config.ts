import { mergeConfig } from 'vitest/config';
import { shared } from '../../vitest.shared.ts';

// Nx sets FORCE_COLOR for the tasks it runs; output assertions compare plain text.
export default mergeConfig(shared, { test: { env: { NO_COLOR: '1' } } });
