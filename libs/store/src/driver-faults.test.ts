import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { openStore } from './index.ts';

const fixture = fileURLToPath(new URL('./fixtures/hold-store.ts', import.meta.url));
const homes: string[] = [];
function tempHome(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-fault-'));
  homes.push(d);
  return d;
}
afterAll(() => {
  for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<CairnError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CairnError);
    return e as CairnError;
  }
  throw new Error('expected the call to fail');
}

function holdInChild(home: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, home], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.on('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
  });
}

// A fresh PGlite directory (initdb) in a child process: about 20 s on an idle 2-core
// machine, three times that when it is shared; the default 60 s is too close.
const PROCESS_TEST_TIMEOUT_MS = 150_000;

describe('embedded store: one process per directory', () => {
  it('a second process gets STORE_LOCKED naming the holder and what to do; a killed holder leaves no lock behind', async () => {
    const home = tempHome();
    const child = await holdInChild(home);
    try {
      const err = await failure(openStore({ home }));
      expect(err.code).toBe('STORE_LOCKED');
      expect(err.message).toContain(`process ${child.pid}`);
      expect(err.message).toMatch(/DATABASE_URL/);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // SIGKILL runs no exit hook: the lock file is stale and is taken over; the data is intact.
    expect(fs.existsSync(path.join(home, 'db.lock'))).toBe(true);
    const store = await openStore({ home });
    expect((await store.listExperiments()).map((e) => e.name)).toEqual(['held']);
    await store.close();
    expect(fs.existsSync(path.join(home, 'db.lock'))).toBe(false);
  }, PROCESS_TEST_TIMEOUT_MS);

  it('the same process opening twice is refused too, and closing releases the lock', async () => {
    const home = tempHome();
    const first = await openStore({ home });
    expect((await failure(openStore({ home }))).code).toBe('STORE_LOCKED');
    await first.close();
    const second = await openStore({ home });
    await second.close();
  });
});

describe('embedded store: damaged directories', () => {
  async function seeded(): Promise<string> {
    const home = tempHome();
    const s = await openStore({ home });
    const e = await s.ensureExperiment({ name: 'precious' });
    const run = await s.createRun({ experimentId: e.id });
    await s.logMetrics(run.id, [{ key: 'loss', value: 1, step: 0 }]);
    await s.close();
    return home;
  }

  it.each([
    ['overwritten pg_control', (db: string) => fs.writeFileSync(path.join(db, 'global', 'pg_control'), Buffer.alloc(8192, 7))],
    ['a missing base directory', (db: string) => fs.renameSync(path.join(db, 'base'), path.join(db, '..', 'base.moved'))],
    ['a garbled PG_VERSION', (db: string) => fs.writeFileSync(path.join(db, 'PG_VERSION'), 'garbage\n')],
  ])('%s gives STORE_DAMAGED, releases the lock and changes no file', async (_label, damage) => {
    const home = await seeded();
    const db = path.join(home, 'db');
    damage(db);
    const before = snapshot(db);
    const err = await failure(openStore({ home }));
    expect(err.code).toBe('STORE_DAMAGED');
    expect(err.message).toContain(db);
    expect(err.message).toMatch(/untouched/);
    expect(snapshot(db)).toEqual(before);
    expect(fs.existsSync(path.join(home, 'db.lock'))).toBe(false);
  });

  it('refuses a data directory that holds something else', async () => {
    const home = tempHome();
    fs.mkdirSync(path.join(home, 'db'));
    fs.writeFileSync(path.join(home, 'db', 'thesis.tex'), 'do not delete');
    const err = await failure(openStore({ home }));
    expect(err.code).toBe('STORE_DAMAGED');
    expect(fs.readFileSync(path.join(home, 'db', 'thesis.tex'), 'utf8')).toBe('do not delete');
  });
});

describe('PostgreSQL that cannot be reached', () => {
  it('fails fast with STORE_UNREACHABLE, the address without its password, and what to do', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const started = Date.now();
    const err = await failure(openStore({ url: `postgres://cairn:s3cret@127.0.0.1:${port}/nope`, connectTimeoutMs: 2000 }));
    expect(err.code).toBe('STORE_UNREACHABLE');
    expect(err.message).not.toContain('s3cret');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toMatch(/DATABASE_URL/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects a URL that is not PostgreSQL', async () => {
    const err = await failure(openStore({ url: 'mysql://root@localhost/db' }));
    expect(err.code).toBe('INVALID_INPUT');
  });
});

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    const st = fs.statSync(p);
    out[path.relative(dir, p)] = `${st.size}:${st.mtimeMs}`;
  }
  return out;
}
