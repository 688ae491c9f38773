#!/usr/bin/env node
// The CLI runs from its TypeScript source: tsx compiles it on load.
import { register } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

// Both loaders, as `node --import tsx` has: a .ts file outside a "type": "module" package
// (a --config file in /tmp, say) is CommonJS to Node, and only the cjs hook compiles it.
register();
registerCjs();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
