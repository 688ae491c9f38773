import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { HttpTransport } from '@cairn/tracking';
import { createApiHandler } from '../handler.ts';
import type { AppRouter } from '../router.ts';
import { createAuth } from './create-auth.ts';
import { client, serve } from './test-support.ts';

const SECRET = 'test-secret-test-secret-test-secret-0123';

function trpc(base: string, headers: () => Record<string, string>) {
  return createTRPCClient<AppRouter>({ links: [httpLink({ url: `${base}/api/trpc`, transformer: superjson, headers })] });
}

describe.each(testDrivers())('team mode over HTTP on $name', (driver) => {
  let store: Store;
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    store = await driver.open();
    server = await serve();
    const auth = createAuth({ store, secret: SECRET, baseURL: server.url });
    server.use(createApiHandler({ store, auth }));
  });
  afterAll(async () => {
    await server?.close();
    await driver.cleanup();
  });

  it('signs up, signs out and in again with a session cookie; the password is stored hashed by better-auth', async () => {
    const ana = client(server.url);
    const up = await ana.fetch('/api/auth/sign-up/email', { method: 'POST', json: { email: 'ana@example.com', password: 'correct horse battery', name: 'Ana' } });
    expect(up.status).toBe(200);
    const { user } = (await up.json()) as { user: { id: string } };
    expect(ana.jar.header()).toContain('cairn.session_token=');
    const api = trpc(server.url, () => ({ cookie: ana.jar.header() }));
    expect(await api.system.info.query()).toMatchObject({ mode: 'team', userId: user.id });
    const session = (await (await ana.fetch('/api/auth/get-session')).json()) as { user: { email: string } };
    expect(session.user.email).toBe('ana@example.com');

    expect((await ana.fetch('/api/auth/sign-out', { method: 'POST', json: {} })).status).toBe(200);
    expect(await (await ana.fetch('/api/auth/get-session')).json()).toBeNull();
    expect(await api.system.info.query()).toMatchObject({ mode: 'team', userId: null });

    const wrong = await ana.fetch('/api/auth/sign-in/email', { method: 'POST', json: { email: 'ana@example.com', password: 'wrong password!' } });
    expect(wrong.status).toBe(401);
    const inAgain = await ana.fetch('/api/auth/sign-in/email', { method: 'POST', json: { email: 'ana@example.com', password: 'correct horse battery' } });
    expect(inAgain.status).toBe(200);
    expect(await api.system.info.query()).toMatchObject({ userId: user.id });

    const [account] = await store.drizzle().execute(sql`select password from accounts where user_id = ${user.id}`).then((r) => (r as unknown as { rows: { password: string }[] }).rows);
    expect(account!.password).not.toContain('correct horse');
    expect(account!.password.length).toBeGreaterThan(40);
  });

  it('an API token works as a bearer for tRPC and ingest, is stored as its hash only, and is refused once revoked', async () => {
    const bo = client(server.url);
    expect((await bo.fetch('/api/auth/sign-up/email', { method: 'POST', json: { email: 'bo@example.com', password: 'bo-password-123', name: 'Bo' } })).status).toBe(200);
    const api = trpc(server.url, () => ({ cookie: bo.jar.header() }));
    const team = await api.teams.create.mutate({ name: 'Bo team' });
    await api.projects.create.mutate({ name: 'bo-proj', teamId: team.id });
    const created = await api.tokens.create.mutate({ name: 'laptop' });
    expect(created.token).toMatch(/^cairn_[A-Za-z0-9_-]{43}$/);
    expect(created.prefix).toBe(created.token.slice(0, 12));
    const listed = await api.tokens.list.query();
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(created.token);

    const rows = (await store.drizzle().execute(sql`select * from api_tokens`)) as unknown as { rows: Record<string, unknown>[] };
    expect(JSON.stringify(rows.rows)).not.toContain(created.token);
    expect(rows.rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);

    const withToken = trpc(server.url, () => ({ authorization: `Bearer ${created.token}` }));
    expect((await withToken.projects.list.query()).map((p) => p.name)).toEqual(['bo-proj']);
    const ingest = (path: string, body: unknown, token = created.token) =>
      fetch(`${server.url}/api/ingest/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // The tracking client's own transport, as training code would use it with CAIRN_TOKEN.
    const transport = new HttpTransport({ url: server.url, token: created.token });
    const run = await transport.createRun({ project: 'bo-proj', experiment: 'e1', name: 'r1' });
    expect(await transport.logMetrics(run.id, { batchId: 'b1', points: [{ key: 'loss', value: 0.5, step: 1 }] })).toEqual({ inserted: 1 });
    expect((await withToken.runs.get.query({ id: run.id })).metrics.loss?.last).toBe(0.5);
    // Without a token, ingest is refused; into a project of no team of Bo's, it is not found.
    expect((await fetch(`${server.url}/api/ingest/v1/runs`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await ingest('/runs', { project: 'default', experiment: 'e1' })).status).toBe(404);

    await api.tokens.revoke.mutate({ id: created.id });
    expect((await ingest(`/runs/${run.id}/heartbeat`, {})).status).toBe(401);
    await expect(transport.heartbeat(run.id)).rejects.toThrow(/token is not valid/);
    const refused = await withToken.projects.list.query().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TRPCClientError);
    expect((refused as TRPCClientError<AppRouter>).data?.code).toBe('UNAUTHORIZED');
    expect((await api.tokens.list.query())[0]!.revokedAt).toBeInstanceOf(Date);
  });
});
