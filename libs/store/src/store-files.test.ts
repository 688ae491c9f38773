import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { hostEmbeddedStore, openStore } from './index.ts';

// The embedded store's files on disk (PGlite-only by nature): other users of the
// machine must not read or write them.
const homes: string[] = [];
function tempHome(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-files-'));
  homes.push(d);
  return d;
}
afterAll(() => {
  for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
});

/** Every file and folder under `dir` (itself included) that anyone but its owner may use, with its mode. */
function shared(dir: string): string[] {
  const out: string[] = [];
  const check = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) out.push(`${path.relative(dir, p) || '.'} ${(st.mode & 0o777).toString(8)}`);
  };
  check(dir);
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) check(path.join(e.parentPath, e.name));
  return out;
}

describe("the embedded store's files", () => {
  it('a new store: every file 0600 and every folder 0700, also those PostgreSQL creates while it runs; host.json 0600', async () => {
    const home = tempHome();
    const hosted = await hostEmbeddedStore({ home });
    try {
      const db = path.join(home, 'db');
      expect(fs.readdirSync(db).length).toBeGreaterThan(10);
      expect(shared(db)).toEqual([]);
      // New relations, their indexes and the files a checkpoint rewrites, while the store is open.
      const raw = hosted.store.drizzle();
      await raw.execute(sql`CREATE TABLE files_probe (k int PRIMARY KEY, v text)`);
      await raw.execute(sql`INSERT INTO files_probe SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g`);
      await raw.execute(sql`CHECKPOINT`);
      expect(shared(db)).toEqual([]);
      expect(fs.statSync(hosted.hostFile).mode & 0o777).toBe(0o600);
    } finally {
      await hosted.close();
    }
  });

  it('an existing store whose files are world-writable is made private when it is opened, and still works', async () => {
    const home = tempHome();
    const first = await openStore({ home });
    await first.ensureExperiment({ name: 'kept' });
    await first.close();
    // As stores made before this fix were left (968 of 1,127 files 0666 in the report).
    const db = path.join(home, 'db');
    fs.chmodSync(db, 0o777);
    for (const e of fs.readdirSync(db, { recursive: true, withFileTypes: true })) fs.chmodSync(path.join(e.parentPath, e.name), e.isDirectory() ? 0o777 : 0o666);
    expect(shared(db).length).toBeGreaterThan(100);

    const again = await openStore({ home });
    try {
      expect(shared(db)).toEqual([]);
      expect((await again.listExperiments()).map((e) => e.name)).toContain('kept');
    } finally {
      await again.close();
    }
  });
});
