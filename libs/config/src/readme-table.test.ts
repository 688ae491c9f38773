import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configTableMarkdown } from './readme-table.ts';

const README = new URL('../../../README.md', import.meta.url);

describe("the README's configuration table", () => {
  it('is the table rendered from ENV_VARIABLES (edit libs/config/src/variables.ts, then paste configTableMarkdown())', () => {
    const text = fs.readFileSync(README, 'utf8');
    const section = text.split(/^## Configuration\n/m)[1];
    expect(section, 'README has a "## Configuration" section').toBeDefined();
    const table = section!
      .trimStart()
      .split('\n')
      .filter((line, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('|')))
      .join('\n');
    expect(table).toBe(configTableMarkdown());
  });
});
