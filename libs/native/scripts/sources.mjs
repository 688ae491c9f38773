// Lists the C++ sources for binding.gyp: every .cc/.cpp under src/ except the kernels'
// standalone tests (src/kernels/test has its own main()), so new files need no edit there.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'test') walk(p);
    } else if (/\.(cc|cpp)$/.test(e.name)) out.push(path.relative(root, p).split(path.sep).join('/'));
  }
};
walk(path.join(root, 'src'));
console.log(out.sort().join(' '));
