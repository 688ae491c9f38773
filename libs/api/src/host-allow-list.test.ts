import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_BASE_PATH } from '@cairn/tracking';
import { startApiServer, type ApiServerProcess } from './api-server-process.ts';
import { requestAs } from './testing.ts';

/**
 * DNS rebinding against local mode (no accounts): a page on attacker.example whose name
 * now resolves to 127.0.0.1 sends the victim's requests with `Host: attacker.example`.
 * The handler answers them 403, before reading or writing anything, and says how to
 * allow a name; loopback names, IP addresses and allowed names are answered as before.
 * Real HTTP to the handler in its own process (fixtures/api-server.ts).
 */
let server: ApiServerProcess;
beforeAll(async () => {
  server = await startApiServer();
}, 180_000);
afterAll(() => server?.stop());

const createRun = { method: 'POST', path: `${INGEST_BASE_PATH}/runs`, json: { experiment: 'rebound', name: 'planted' } };

describe('local mode behind a rebound name', () => {
  it('refuses to read: tRPC answers 403 in its own error shape, with how to allow the name', async () => {
    const port = server.local.port;
    const res = await requestAs(port, `attacker.example:${port}`, { path: '/api/trpc/experiments.list' });
    expect(res.status).toBe(403);
    const body = JSON.parse(res.body) as { error: { json: { message: string; data: { code: string; httpStatus: number } } } };
    expect(body.error.json.data).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403 });
    expect(body.error.json.message).toMatch(/not 'attacker\.example:\d+'.*DNS rebinding.*CAIRN_ALLOWED_HOSTS=attacker\.example/);
  });

  it('refuses to write through ingest, and nothing is written', async () => {
    const port = server.local.port;
    const res = await requestAs(port, 'attacker.example', createRun);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'HOST_NOT_ALLOWED', message: expect.stringContaining('CAIRN_ALLOWED_HOSTS') } });
    const experiments = await requestAs(port, `127.0.0.1:${port}`, { path: '/api/trpc/experiments.list' });
    expect(experiments.status).toBe(200);
    expect(experiments.body).not.toContain('rebound');
  });

  it('refuses a missing or malformed Host, and names that only contain an allowed one', async () => {
    const port = server.local.port;
    for (const host of ['localhost.attacker.example', '127.0.0.1.nip.example', 'attacker.example@127.0.0.1', '127.0.0.1:3000@attacker.example']) {
      expect((await requestAs(port, host, { path: '/api/trpc/experiments.list' })).status, host).toBe(403);
    }
    // Without a Host, node:http answers 400 before the handler sees it (and the handler would refuse it: 403).
    expect([400, 403]).toContain((await requestAs(port, null, { path: '/api/trpc/experiments.list' })).status);
  });

  it('answers loopback names and IP addresses as before', async () => {
    const port = server.local.port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `cairn.localhost:${port}`, `[::1]:${port}`, `192.168.1.10:${port}`]) {
      expect((await requestAs(port, host, { path: '/api/trpc/experiments.list' })).status, host).toBe(200);
    }
    const created = await requestAs(port, `localhost:${port}`, createRun);
    expect(created.status).toBe(201);
  });

  it('answers a name the server was told to allow (CAIRN_ALLOWED_HOSTS), and still refuses others', async () => {
    const port = server.allowing.port;
    expect((await requestAs(port, `portal.cairn.test:${port}`, { path: '/api/trpc/experiments.list' })).status).toBe(200);
    expect((await requestAs(port, `team.example.org`, { path: '/api/trpc/experiments.list' })).status).toBe(200);
    expect((await requestAs(port, `attacker.example:${port}`, { path: '/api/trpc/experiments.list' })).status).toBe(403);
  });
});

describe('team mode', () => {
  it('does not check the Host: a rebound page has no session, so it reads and writes nothing', async () => {
    const port = server.team.port;
    expect((await requestAs(port, 'attacker.example', { path: '/api/trpc/system.info' })).status).toBe(200);
    expect((await requestAs(port, 'attacker.example', createRun)).status).toBe(401);
  });
});
