import net from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servePglite, type PgliteServer } from './pglite-server.ts';

// The wire server alone, on an in-memory PGlite: what makes several connections safe.
let db: PGlite;
let server: PgliteServer;
const password = 'test-password-0123456789';
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await PGlite.create();
  await db.exec('CREATE TABLE t (k int, v float8)');
  server = await servePglite(db, { password, idleInTransactionMs: 1_500 });
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await server.close();
  await db.close();
});

async function connect(pw = password, port = server.port): Promise<pg.Client> {
  const c = new pg.Client({ host: server.host, port, user: 'cairn', password: pw, database: 'cairn' });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

/**
 * A slow link to the server: what the client sends goes on in 16 KiB pieces 2 ms apart,
 * so a large message takes many reads and other connections' queries land in between.
 */
async function slowLink(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(server.port, server.host);
    sockets.add(client).add(upstream);
    let chain = Promise.resolve();
    client.on('data', (d: Buffer) => {
      client.pause();
      chain = chain.then(async () => {
        for (let i = 0; i < d.length; i += 16_384) {
          upstream.write(d.subarray(i, i + 16_384));
          await new Promise((r) => setTimeout(r, 2));
        }
        client.resume();
      });
    });
    upstream.pipe(client);
    for (const s of [client, upstream]) s.on('error', () => undefined).on('close', () => (client.destroy(), upstream.destroy()));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}

describe('PGlite wire server', () => {
  it('refuses a wrong password', async () => {
    await expect(connect('nope')).rejects.toMatchObject({ code: '28P01' });
  });

  it('keeps an extended query whole while another connection runs its own: a Bind over many TCP reads is not bound to the other statement', async () => {
    // The failure this server exists to prevent: pglite-socket 0.2.17's multiplexer lets
    // B's Parse in between A's Parse and A's Bind (still arriving); A's parameters are
    // then bound to B's statement. Against it, this test finds none of A's rows stored
    // and no error raised (elsewhere: "invalid input syntax for type integer").
    const link = await slowLink();
    const [a, b] = await Promise.all([connect(password, link.port), connect()]);
    // Each Bind is about 1.6 MB: a hundred reads over the slow link, B's queries arriving between them.
    const n = 100_000;
    let bigDone = false;
    let small = 0;
    const smalls = (async () => {
      while (!bigDone || small < 20) {
        const r = await b.query('SELECT $1::int AS v, $2::text AS t', [small, `x${small}`]);
        expect(r.rows[0]).toEqual({ v: small, t: `x${small}` });
        small++;
      }
    })();
    try {
      for (let k = 1; k <= 3; k++) {
        await a.query('INSERT INTO t SELECT $1::int, v FROM unnest($2::float8[]) AS v', [k, Array.from({ length: n }, (_, i) => i + 0.123456789)]);
      }
    } finally {
      bigDone = true;
    }
    await smalls;
    link.close();
    const counts = await b.query('SELECT k, count(*)::int AS n FROM t WHERE k BETWEEN 1 AND 3 GROUP BY k ORDER BY k');
    expect(counts.rows).toEqual([1, 2, 3].map((k) => ({ k, n })));
  });

  it("holds the database for a transaction's whole length: other connections and the host's own queries wait for COMMIT", async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    await a.query('BEGIN');
    await a.query('INSERT INTO t VALUES (100, 1)');
    let remoteSeen: number | null = null;
    let localSeen: number | null = null;
    const remote = b.query('SELECT count(*)::int AS n FROM t WHERE k = 100').then((r) => (remoteSeen = r.rows[0].n as number));
    const local = db.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE k = 100').then((r) => (localSeen = r.rows[0]!.n));
    await new Promise((r) => setTimeout(r, 300));
    expect([remoteSeen, localSeen]).toEqual([null, null]);
    await a.query('INSERT INTO t VALUES (100, 2)');
    await a.query('COMMIT');
    await Promise.all([remote, local]);
    expect([remoteSeen, localSeen]).toEqual([2, 2]);
  });

  it('rolls back what a connection that went away left open, and lets the others go on', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    await a.query('BEGIN');
    await a.query('INSERT INTO t VALUES (200, 1)');
    const waiting = b.query('SELECT count(*)::int AS n FROM t WHERE k = 200');
    // As when a process is killed: the socket closes without COMMIT or Terminate.
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect((await waiting).rows[0].n).toBe(0);
    expect(db.isInTransaction()).toBe(false);
  });

  it('drops a connection that sits inside a transaction past the idle timeout', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    await a.query('BEGIN');
    await a.query('INSERT INTO t VALUES (300, 1)');
    const started = Date.now();
    const r = await b.query('SELECT count(*)::int AS n FROM t WHERE k = 300');
    expect(r.rows[0].n).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    await expect(a.query('COMMIT')).rejects.toThrow();
  });
});
