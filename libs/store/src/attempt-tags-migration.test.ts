import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '@cairn/schema/migrations';

/**
 * The migration that moved attempts out of tags: a store written before it (attempts as
 * `attempts` / `attempt.N` tags in the worker's format) keeps its history as run_attempts
 * rows; tags that only look alike (a user's) stay tags.
 */
describe('migrating attempt tags to run_attempts', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-mig-attempts-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('turns the pipeline’s attempt tags into rows and removes them; other tags stay', async () => {
    // The migrations before this one.
    const before = path.join(tmp, 'before');
    fs.cpSync(MIGRATIONS_DIR, before, { recursive: true });
    const journalFile = path.join(before, 'meta/_journal.json');
    const journal = JSON.parse(fs.readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
    const at = journal.entries.findIndex((e) => e.tag.endsWith('_run_attempts'));
    expect(at).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, at);
    fs.writeFileSync(journalFile, JSON.stringify(journal));

    const pg = new PGlite();
    try {
      const db = drizzle(pg);
      await migrate(db, { migrationsFolder: before });
      const run = '01900000-0000-7000-8000-000000000001';
      const other = '01900000-0000-7000-8000-000000000002';
      await pg.exec(`
        INSERT INTO projects (id, name) VALUES ('01900000-0000-7000-8000-0000000000aa', 'default');
        INSERT INTO experiments (id, project_id, name) VALUES ('01900000-0000-7000-8000-0000000000bb', '01900000-0000-7000-8000-0000000000aa', 'e');
        INSERT INTO runs (id, experiment_id, name, status, attempts, ended_at) VALUES
          ('${run}', '01900000-0000-7000-8000-0000000000bb', 'a', 'finished', 3, '2026-01-01T00:05:00Z'),
          ('${other}', '01900000-0000-7000-8000-0000000000bb', 'b', 'running', 1, NULL);
        INSERT INTO run_tags (run_id, key, value) VALUES
          ('${run}', 'attempts', '3'),
          ('${run}', 'attempt.1', '2026-01-01T00:00:00.000Z on host:11:aa → failed, retried: boom: NaN'),
          ('${run}', 'attempt.2', '2026-01-01T00:01:00.000Z on host:12:bb'),
          ('${run}', 'attempt.3', '2026-01-01T00:02:00.000Z on a worker, resumed from checkpoint at step 40'),
          ('${run}', 'team', 'vision'),
          ('${other}', 'attempts', 'many'),
          ('${other}', 'attempt.1', 'my own note');
      `);
      await migrate(db, { migrationsFolder: MIGRATIONS_DIR });

      const rows = await pg.query<Record<string, unknown>>(`SELECT attempt, worker_id, started_at, ended_at, resumed_from_step, outcome, detail FROM run_attempts WHERE run_id = '${run}' ORDER BY attempt`);
      expect(rows.rows.map((r) => [r.attempt, r.worker_id, r.resumed_from_step === null ? null : Number(r.resumed_from_step), r.outcome, r.detail])).toEqual([
        [1, 'host:11:aa', null, 'retried', 'boom: NaN'],
        [2, 'host:12:bb', null, 'superseded', null],
        [3, null, 40, 'finished', null],
      ]);
      expect((rows.rows[0]!.started_at as Date).toISOString()).toBe('2026-01-01T00:00:00.000Z');
      expect((rows.rows[1]!.ended_at as Date).toISOString()).toBe('2026-01-01T00:02:00.000Z');
      const tags = await pg.query<{ run_id: string; key: string; value: string }>('SELECT run_id, key, value FROM run_tags ORDER BY run_id, key');
      expect(tags.rows.map((t) => [t.run_id === run ? 'run' : 'other', t.key, t.value])).toEqual([
        ['run', 'team', 'vision'],
        ['other', 'attempt.1', 'my own note'],
        ['other', 'attempts', 'many'],
      ]);
      expect((await pg.query(`SELECT 1 FROM run_attempts WHERE run_id = '${other}'`)).rows).toEqual([]);
    } finally {
      await pg.close();
    }
  }, 60_000);
});
