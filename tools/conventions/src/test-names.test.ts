import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { servicesNamed, servicesUsed } from './service-names.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Every test file git knows of (tracked, or new and not ignored). */
function testFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', '*.test.ts', '*.test.tsx'], { cwd: ROOT, encoding: 'utf8' });
  // This folder's own tests spell the helpers' names out as examples.
  return out.split('\n').filter((f) => f && !f.startsWith('tools/conventions/') && fs.existsSync(path.join(ROOT, f)));
}

describe('service-names', () => {
  it('reads what a source calls for and what a name says', () => {
    expect(servicesUsed("describe.each(testDrivers())('x', () => {})")).toEqual(['postgres']);
    expect(servicesUsed('const r = await testRedis(); const s = testDrivers();')).toEqual(['postgres', 'redis']);
    expect(servicesUsed('world = await createWorld();')).toEqual(['postgres', 'redis']);
    expect(servicesUsed("// mentions DATABASE_URL and REDIS_URL in words only")).toEqual([]);
    expect(servicesNamed('libs/store/src/store.postgres.test.ts')).toEqual(['postgres']);
    expect(servicesNamed('a/b.redis-postgres.test.ts')).toEqual(['postgres', 'redis']);
    expect(servicesNamed('a/postgres.test.ts')).toEqual([]);
  });
});

describe('integration tests name the services they need', () => {
  const files = testFiles();

  it('finds the repository’s test files', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('every test file that opens PostgreSQL or Redis says so in its name, and no other does', () => {
    const wrong = files
      .map((f) => ({ file: f, uses: servicesUsed(fs.readFileSync(path.join(ROOT, f), 'utf8')), named: servicesNamed(f) }))
      .filter((f) => f.uses.join() !== f.named.join())
      .map((f) => `${f.file}: uses [${f.uses.join(', ')}], its name says [${f.named.join(', ')}]`);
    expect(wrong).toEqual([]);
  });
});
