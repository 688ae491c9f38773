import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from './migrations-dir.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const migrations = MIGRATIONS_DIR;

describe('committed migrations', () => {
  it('match the schema: drizzle-kit generates nothing new', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-mig-'));
    try {
      fs.cpSync(migrations, out, { recursive: true });
      const config = path.join(out, 'drizzle.config.json');
      // drizzle-kit reads TS configs too; JSON keeps this test free of a loader.
      fs.writeFileSync(config, JSON.stringify({ dialect: 'postgresql', schema: path.join(root, 'libs/schema/src/tables.ts'), out }));
      const before = fs.readdirSync(out).sort();
      execFileSync(path.join(root, 'node_modules/.bin/drizzle-kit'), ['generate', '--config', config], { cwd: root, stdio: 'pipe' });
      expect(fs.readdirSync(out).sort()).toEqual(before);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
