import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILDS_ON, checkImportGraph, formatViolation, libsAbove, type ImportGraph } from './import-graph.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const FIXTURES = path.resolve(HERE, '../fixtures');

/** The apps', libs' and tools' sources git knows of (tracked, or new and not ignored), less this folder's fixtures. */
function sourceFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'apps', 'libs', 'tools'], { cwd: ROOT, encoding: 'utf8' });
  return out
    .split('\n')
    .filter((f) => /\.(ts|tsx|mts|cts|js|mjs|cjs)$/.test(f) && !f.startsWith('tools/conventions/fixtures/') && fs.existsSync(path.join(ROOT, f)));
}

const lines = (violations: Parameters<typeof formatViolation>[0][]) => violations.map(formatViolation);

describe('import graph check (fixtures)', () => {
  it('reports a cycle closed by a type-only import, with its path', async () => {
    const graph = await checkImportGraph(path.join(FIXTURES, 'cyclic'), ['libs']);
    expect(lines(graph.violations)).toEqual(['no-circular: libs/kit/src/a.ts → libs/kit/src/b.ts → libs/kit/src/a.ts']);
  });

  it('reports an app importing an app, a lib importing an app, imports against the direction and unresolved imports', async () => {
    const graph = await checkImportGraph(path.join(FIXTURES, 'boundaries'), ['apps', 'libs']);
    expect(lines(graph.violations)).toEqual([
      'lib-against-direction: libs/engine/src/index.ts → libs/store/src/index.ts',
      'lib-against-direction: libs/schema/src/index.ts → libs/engine/src/index.ts',
      'lib-not-to-app: libs/store/src/index.ts → apps/web/src/page.ts',
      'not-to-other-app: apps/cli/src/main.ts → apps/web/src/page.ts',
      'relative-unresolved: libs/engine/src/index.ts → ./missing.ts',
      'workspace-unresolved: libs/engine/src/index.ts → @cairn/no-such-lib',
    ]);
  });

  it('reads the direction from the architecture: nothing imports up, engine and snapshot stay off the database', () => {
    expect(libsAbove('schema')).toEqual(['api', 'config', 'engine', 'models', 'native', 'pipeline', 'snapshot', 'store', 'tracking']);
    expect(libsAbove('config')).toEqual(['api', 'pipeline', 'tracking']);
    expect(libsAbove('http')).toEqual(['api', 'models', 'pipeline', 'tracking']);
    expect(libsAbove('store')).toEqual(['api', 'models', 'pipeline', 'tracking']);
    expect(libsAbove('engine')).toEqual(['api', 'models', 'native', 'pipeline', 'store', 'tracking']);
    expect(libsAbove('api')).toEqual([]);
  });
});

describe('import graph of the repository', () => {
  const files = sourceFiles();
  let graph: ImportGraph;
  beforeAll(async () => {
    graph = await checkImportGraph(ROOT, files);
  });

  it('follows @cairn/* packages to their sources', () => {
    const { modules } = graph;
    expect(modules.length).toBeGreaterThan(400);
    const resolved = modules.flatMap((m) => m.dependencies).filter((d) => d.module === '@cairn/store');
    expect(resolved.length).toBeGreaterThan(10);
    expect(new Set(resolved.map((d) => d.resolved))).toEqual(new Set(['libs/store/src/index.ts']));
  });

  it('places every lib in the dependency direction', () => {
    const libs = [...new Set(files.filter((f) => f.startsWith('libs/')).map((f) => f.split('/')[1]!))].sort();
    expect(libs.filter((lib) => !(lib in BUILDS_ON))).toEqual([]);
  });

  it('has no import cycle, no app importing an app, no lib importing an app or against the direction', () => {
    const { violations } = graph;
    if (violations.length > 0) console.error(`import graph: ${violations.length} violation(s)\n${lines(violations).join('\n')}`);
    expect(lines(violations)).toEqual([]);
  });
});
