import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '@cairn/schema/migrations';

/**
 * The migration that moved a queued run's prefix out of the `queue` tag: runs still
 * queued by the pipeline (with a code bundle) keep being queued again on their prefix;
 * ended runs and runs without a code bundle get none; every tag stays the user's.
 */
describe('migrating the queue tag to runs.queue_prefix', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-mig-queue-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('sets the prefix of queued runs from their tag and leaves the tags alone', async () => {
    const before = path.join(tmp, 'before');
    fs.cpSync(MIGRATIONS_DIR, before, { recursive: true });
    const journalFile = path.join(before, 'meta/_journal.json');
    const journal = JSON.parse(fs.readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
    const at = journal.entries.findIndex((e) => e.tag.endsWith('_run_queue_prefix'));
    expect(at).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, at);
    fs.writeFileSync(journalFile, JSON.stringify(journal));

    const pg = new PGlite();
    try {
      const db = drizzle(pg);
      await migrate(db, { migrationsFolder: before });
      const id = (n: number) => `01900000-0000-7000-8000-00000000000${n}`;
      const code = `'${'c'.repeat(64)}'`;
      await pg.exec(`
        INSERT INTO projects (id, name) VALUES ('01900000-0000-7000-8000-0000000000aa', 'default');
        INSERT INTO experiments (id, project_id, name) VALUES ('01900000-0000-7000-8000-0000000000bb', '01900000-0000-7000-8000-0000000000aa', 'e');
        INSERT INTO runs (id, experiment_id, name, status, code_hash) VALUES
          ('${id(1)}', '01900000-0000-7000-8000-0000000000bb', 'queued', 'queued', ${code}),
          ('${id(2)}', '01900000-0000-7000-8000-0000000000bb', 'finished', 'finished', ${code}),
          ('${id(3)}', '01900000-0000-7000-8000-0000000000bb', 'no-bundle', 'queued', NULL),
          ('${id(4)}', '01900000-0000-7000-8000-0000000000bb', 'untagged', 'queued', ${code});
        INSERT INTO run_tags (run_id, key, value) VALUES
          ('${id(1)}', 'queue', 'team-a'),
          ('${id(2)}', 'queue', 'team-a'),
          ('${id(3)}', 'queue', 'team-a');
      `);
      await migrate(db, { migrationsFolder: MIGRATIONS_DIR });

      const rows = await pg.query<{ name: string; queue_prefix: string | null }>('SELECT name, queue_prefix FROM runs ORDER BY id');
      expect(rows.rows.map((r) => [r.name, r.queue_prefix])).toEqual([
        ['queued', 'team-a'],
        ['finished', null],
        ['no-bundle', null],
        ['untagged', null],
      ]);
      const tags = await pg.query<{ key: string }>(`SELECT key FROM run_tags WHERE key = 'queue'`);
      expect(tags.rows).toHaveLength(3);
    } finally {
      await pg.close();
    }
  }, 60_000);
});
