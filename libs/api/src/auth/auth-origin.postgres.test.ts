import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { createApiHandler } from '../handler.ts';
import { createAuth } from './create-auth.ts';

// As a deployed portal runs: better-auth reads NODE_ENV once, when imported, and under
// NODE_ENV=test (or TEST=true, which vitest sets) it would skip its origin check and
// pick cookies differently.
vi.hoisted(() => {
  process.env.NODE_ENV = 'production';
  delete process.env.TEST;
});

const SECRET = 'origin-secret-origin-secret-origin-secret';

/**
 * A server in front of the handler that builds request URLs as `next start` does: from
 * its own bind address (`localhost` here, while clients dial 127.0.0.1), with https only
 * when a proxy says so in x-forwarded-proto. The Host header is the one the client sent.
 */
async function nextLike(handler: () => (req: Request) => Promise<Response>): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const proto = String(req.headers['x-forwarded-proto'] ?? '').includes('https') ? 'https' : 'http';
    const { port } = server.address() as AddressInfo;
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`${proto}://localhost:${port}${req.url}`, { method: req.method, headers, body: hasBody ? (Readable.toWeb(req) as ReadableStream) : undefined, duplex: 'half' } as RequestInit);
    const response = await handler()(request);
    const out: Record<string, string | string[]> = {};
    response.headers.forEach((v, k) => {
      if (k !== 'set-cookie') out[k] = v;
    });
    if (response.headers.getSetCookie().length) out['set-cookie'] = response.headers.getSetCookie();
    res.writeHead(response.status, out).end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

describe.each(testDrivers())('team-mode sign-in at the request’s own origin on $name', (driver) => {
  let store: Store;
  let server: Awaited<ReturnType<typeof nextLike>>;
  let configured: Awaited<ReturnType<typeof nextLike>>;
  let n = 0;

  beforeAll(async () => {
    store = await driver.open();
    const own = createApiHandler({ store, auth: createAuth({ store, secret: SECRET }) });
    server = await nextLike(() => own);
    const fixed = createApiHandler({ store, auth: createAuth({ store, secret: SECRET, baseURL: 'http://portal.example:8080' }) });
    configured = await nextLike(() => fixed);
  });
  afterAll(async () => {
    await server?.close();
    await configured?.close();
    await driver.cleanup();
  });

  const signUp = (port: number, origin: string, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${port}/api/auth/sign-up/email`, {
      method: 'POST',
      // A client address each: better-auth rate-limits sign-ups per address in production.
      headers: { 'content-type': 'application/json', origin, 'x-forwarded-for': `10.0.0.${n + 1}`, ...headers },
      body: JSON.stringify({ email: `u${++n}@example.com`, password: 'correct horse battery', name: `U${n}` }),
    });

  const cookieNames = (res: Response) => res.headers.getSetCookie().map((c) => c.split('=')[0]);
  const whoAmI = async (port: number, res: Response, headers: Record<string, string> = {}) => {
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const info = await fetch(`http://127.0.0.1:${port}/api/trpc/system.info`, { headers: { cookie, ...headers } });
    return ((await info.json()) as { result: { data: { json: { userId: string | null } } } }).result.data.json.userId;
  };

  it('signs up over plain http from the page’s own origin, with cookies that are not Secure', async () => {
    const res = await signUp(server.port, `http://127.0.0.1:${server.port}`);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(cookieNames(res)).toContain('cairn.session_token');
    for (const c of res.headers.getSetCookie()) {
      expect(c).not.toMatch(/^__Secure-/);
      expect(c).not.toMatch(/;\s*secure/i);
    }
    expect(await whoAmI(server.port, res)).toEqual(expect.any(String));
  });

  it('sets __Secure- cookies with Secure when the request came over https', async () => {
    const res = await signUp(server.port, `https://127.0.0.1:${server.port}`, { 'x-forwarded-proto': 'https' });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(cookieNames(res)).toContain('__Secure-cairn.session_token');
    for (const c of res.headers.getSetCookie()) expect(c).toMatch(/;\s*secure/i);
    expect(await whoAmI(server.port, res, { 'x-forwarded-proto': 'https' })).toEqual(expect.any(String));
  });

  it('refuses a sign-up posted from another origin (CSRF), and from the plain-http twin of an https request', async () => {
    for (const origin of ['http://evil.example', `http://127.0.0.1:${server.port + 1}`, 'null']) {
      const res = await signUp(server.port, origin);
      expect(res.status, origin).toBe(403);
    }
    expect((await signUp(server.port, `http://127.0.0.1:${server.port}`, { 'x-forwarded-proto': 'https' })).status).toBe(403);
  });

  it('with a configured URL (CAIRN_AUTH_URL), trusts that origin only', async () => {
    expect((await signUp(configured.port, `http://127.0.0.1:${configured.port}`)).status).toBe(403);
    const res = await signUp(configured.port, 'http://portal.example:8080');
    expect(res.status, await res.clone().text()).toBe(200);
    for (const c of res.headers.getSetCookie()) expect(c).not.toMatch(/;\s*secure/i);
  });
});
