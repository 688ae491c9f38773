import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importLine, locationIn } from './definition-errors.ts';
import { loadDefinition } from './load-definition.ts';
import { runTraining } from './run-training.ts';
import { TfjsMissingError } from './tfjs/peers.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/broken/${name}.ts`, import.meta.url));
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error & { code?: string },
  );
const quiet = { metrics() {}, artifact() {} };

describe('a training module that fails to load names its file and line', () => {
  it('a syntax error: the line and column of the missing comma, in one line', async () => {
    const e = await failure(loadDefinition(fixture('syntax-error')));
    expect(e.code).toBe('INVALID_INPUT');
    // Column 2 or 3: esbuild (tsx) and oxc (vitest) point at either side of the gap.
    expect(e.message).toMatch(new RegExp(`^training module ${fixture('syntax-error')}:7:[23] failed to load: syntax error: Expected .*\`?}`));
    expect(e.message).not.toContain('\n');
    expect(e.message).not.toContain('\u001b[');
  });

  it("a bad import: the import's line and the package to install", async () => {
    const e = await failure(loadDefinition(fixture('bad-import')));
    expect(e.message).toBe(`training module ${fixture('bad-import')}:3 failed to load: it imports 'no-such-package', which is not installed (npm install no-such-package)`);
  });

  it('a tfjs package that is not installed: the line, and the engine’s tf or the install command', async () => {
    const e = await failure(loadDefinition(fixture('tfjs-import')));
    expect(e).toBeInstanceOf(TfjsMissingError);
    expect(e.message).toMatch(new RegExp(`^training module ${fixture('tfjs-import')}:4 failed to load; import \\{ tf \\} from '@cairn/engine' instead of tfjs itself, or install it: @tensorflow/tfjs-not-installed is not installed; .*npm install @tensorflow/tfjs-core@4\\.22\\.0`));
  });
});

describe('an error thrown inside a definition names its file and line', () => {
  it('model() throwing: the throw in the definition', async () => {
    const { definition } = await loadDefinition(fixture('model-throws'));
    expect(() => definition.model({}, { inputShape: [2], counts: { train: 4 } })).toThrow(`boom: units must be positive (in model() of ${fixture('model-throws')}:10:11)`);
    const outcome = await runTraining({ definition, dataDir: '.', reporter: quiet, backend: 'cpu' });
    expect(outcome.result.status).toBe('failed');
    expect(outcome.result.reason).toBe(`boom: units must be positive (in model() of ${fixture('model-throws')}:10:11)`);
  });

  it("data() rejecting from the definition's own helper: the helper's line", async () => {
    const { definition } = await loadDefinition(fixture('data-throws'));
    const outcome = await runTraining({ definition, dataDir: '.', reporter: quiet, backend: 'cpu' });
    expect(outcome.result.reason).toBe(`no rows in data.csv (in data() of ${fixture('data-throws')}:5:9)`);
  });

  it('keeps the error object (class, code) and does not annotate twice', async () => {
    const { definition } = await loadDefinition(fixture('model-throws'));
    const e = (() => {
      try {
        definition.model({}, { inputShape: [2], counts: { train: 4 } });
      } catch (x) {
        return x as Error;
      }
    })()!;
    expect(e).toBeInstanceOf(Error);
    expect(e.stack!.split('\n')[0]).toBe(`Error: ${e.message}`);
    expect(e.message.match(/\(in model\(\)/g)).toHaveLength(1);
  });
});

describe('locations in loader messages', () => {
  const path = '/home/me/proj/train.ts';
  it('finds path:line[:col] as an absolute path, a file URL or a relative path; not another file', () => {
    expect(locationIn(`Transform failed with 1 error:\n${path}:7:2: ERROR: Expected "}"`, path)).toEqual({ line: 7, column: 2 });
    expect(locationIn(`    at model (${pathToFileURL(path).href}:12:5)`, path)).toEqual({ line: 12, column: 5 });
    expect(locationIn('[ proj/train.ts:3:1 ]', path)).toEqual({ line: 3, column: 1 });
    expect(locationIn('    at x (/elsewhere/train.ts:9:1)', path)).toBeNull();
  });
  it('finds the line that imports a package', () => {
    const src = "import a from 'a';\nconst b = await import(\"no-such-package/sub\");\n";
    expect(importLine(src, 'no-such-package')).toBe(2);
    expect(importLine(src, 'no-such')).toBeNull();
  });
});
