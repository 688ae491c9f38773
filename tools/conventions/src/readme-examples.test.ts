import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { firstCodeBlock, openingExampleProblems, typecheckExamples, type ExampleSource } from './readme-examples.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
/** Ignored by git (this folder's .gitignore); the examples are written here while they compile. */
const WORK = path.resolve(HERE, '../.readme-examples');

const LIBS = fs
  .readdirSync(path.join(ROOT, 'libs'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(ROOT, 'libs', d.name, 'package.json')))
  .map((d) => d.name)
  .sort();

const readme = (lib: string) => path.join(ROOT, 'libs', lib, 'README.md');

describe('reading a README’s opening example', () => {
  it('accepts a ts block before the first section and refuses the others', () => {
    expect(openingExampleProblems('# @cairn/x\n\nWhat it is.\n\n```ts\nconst a = 1;\n```\n\n## API\n')).toEqual([]);
    expect(openingExampleProblems('# @cairn/x\n\n## Usage\n\n```ts\nconst a = 1;\n```\n')).toEqual([
      'its first code block (line 5) comes after the section heading on line 3',
    ]);
    expect(openingExampleProblems('# @cairn/x\n\n```sh\nnpm i\n```\n\n```ts\nconst a = 1;\n```\n')).toEqual(['its first code block is ```sh, not ```ts']);
    expect(openingExampleProblems('# @cairn/x\n\nNo code.\n')).toEqual(['no code block']);
    expect(firstCodeBlock('# x\n\n```ts\nconst a = 1;\nconst b = 2;\n```\n')).toEqual({ lang: 'ts', code: 'const a = 1;\nconst b = 2;', line: 4 });
  });
});

describe('every lib’s README opens with an example that compiles', () => {
  it('finds the libs', () => {
    expect(LIBS.length).toBeGreaterThanOrEqual(9);
  });

  it.each(LIBS)('libs/%s/README.md opens with a ```ts example before its first section', (lib) => {
    expect(fs.existsSync(readme(lib)), `libs/${lib}/README.md is missing`).toBe(true);
    expect(openingExampleProblems(fs.readFileSync(readme(lib), 'utf8'))).toEqual([]);
  });

  // One compiler program for every example and a broken one, which proves the check reports.
  const BROKEN: ExampleSource = { name: 'libs/broken/README.md', line: 10, code: "import { nope } from '@cairn/schema';\n\nconst n: number = 'one';\n" };
  let messages: string[];
  beforeAll(() => {
    const examples = LIBS.filter((lib) => fs.existsSync(readme(lib))).flatMap((lib): ExampleSource[] => {
      const block = firstCodeBlock(fs.readFileSync(readme(lib), 'utf8'));
      return block?.lang === 'ts' ? [{ name: `libs/${lib}/README.md`, code: block.code, line: block.line }] : [];
    });
    messages = typecheckExamples([...examples, BROKEN], { root: ROOT, dir: WORK });
  });

  it('reports an example that does not compile, at its README line', () => {
    expect(messages.filter((m) => m.startsWith(BROKEN.name))).toEqual([
      expect.stringMatching(/^libs\/broken\/README\.md:10: TS2305: .*'nope'/),
      expect.stringMatching(/^libs\/broken\/README\.md:12: TS2322: Type 'string' is not assignable to type 'number'/),
    ]);
  });

  it('the examples type-check against the libs’ public entries', () => {
    expect(messages.filter((m) => !m.startsWith(BROKEN.name))).toEqual([]);
  });
});
