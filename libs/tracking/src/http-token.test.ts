import { afterEach, describe, expect, it } from 'vitest';
import { HttpTransport } from './index.ts';

/** What the transport sends: a team-mode server needs `Authorization: Bearer <API token>`. */
function capture(): { fetch: typeof fetch; auth: () => string | null } {
  let last: Headers | null = null;
  return {
    fetch: (async (_url: string | URL | Request, init?: RequestInit) => {
      last = new Headers(init?.headers);
      return new Response(JSON.stringify({ ok: true }), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch,
    auth: () => last?.get('authorization') ?? null,
  };
}

describe('HttpTransport credentials', () => {
  const saved = process.env.CAIRN_TOKEN;
  afterEach(() => {
    if (saved === undefined) delete process.env.CAIRN_TOKEN;
    else process.env.CAIRN_TOKEN = saved;
  });

  it('sends the token option as a bearer token, else CAIRN_TOKEN, else nothing', async () => {
    delete process.env.CAIRN_TOKEN;
    const none = capture();
    await new HttpTransport({ url: 'http://127.0.0.1:1', fetch: none.fetch }).heartbeat('0190aaaa-0000-7000-8000-000000000000');
    expect(none.auth()).toBeNull();

    process.env.CAIRN_TOKEN = 'cairn_fromenv';
    const env = capture();
    await new HttpTransport({ url: 'http://127.0.0.1:1', fetch: env.fetch }).heartbeat('0190aaaa-0000-7000-8000-000000000000');
    expect(env.auth()).toBe('Bearer cairn_fromenv');

    const explicit = capture();
    await new HttpTransport({ url: 'http://127.0.0.1:1', token: 'cairn_option', fetch: explicit.fetch }).heartbeat('0190aaaa-0000-7000-8000-000000000000');
    expect(explicit.auth()).toBe('Bearer cairn_option');
  });
});
