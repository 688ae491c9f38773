import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readRequestBody, withRequestBody } from './fetch-body.ts';
import { readNodeBody } from './node-body.ts';

class TooLarge extends Error {}
const tooLarge = () => new TooLarge('too large');

function chunked(parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(new TextEncoder().encode(p));
      c.close();
    },
  });
}

describe('readRequestBody', () => {
  it('reads a body within the limit', async () => {
    const body = await readRequestBody(new Request('http://x/', { method: 'POST', body: chunked(['ab', 'cd']), duplex: 'half' } as RequestInit), 4, tooLarge);
    expect(new TextDecoder().decode(body!)).toBe('abcd');
  });

  it('refuses a body that grows past the limit, with no content-length', async () => {
    const req = new Request('http://x/', { method: 'POST', body: chunked(['ab', 'cde']), duplex: 'half' } as RequestInit);
    await expect(readRequestBody(req, 4, tooLarge)).rejects.toBeInstanceOf(TooLarge);
  });

  it('refuses a declared content-length over the limit before reading', async () => {
    const req = new Request('http://x/', { method: 'POST', body: 'abcde', headers: { 'content-length': '5' } });
    await expect(readRequestBody(req, 4, tooLarge)).rejects.toBeInstanceOf(TooLarge);
  });

  it('gives null for no body, and a GET through withRequestBody unchanged', async () => {
    expect(await readRequestBody(new Request('http://x/', { method: 'POST' }), 4, tooLarge)).toBeNull();
    const get = new Request('http://x/');
    expect(await withRequestBody(get, 4, tooLarge)).toBe(get);
  });
});

describe('readNodeBody', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function post(limit: number, body: string): Promise<{ status: number; text: string }> {
    server = http.createServer((req, res) => {
      readNodeBody(req, limit, tooLarge).then(
        (b) => res.end(`ok ${b.toString()}`),
        (e: unknown) => {
          res.writeHead(e instanceof TooLarge ? 413 : 500, { connection: 'close' });
          res.end('refused');
        },
      );
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body });
    return { status: res.status, text: await res.text() };
  }

  it('reads a body within the limit', async () => {
    expect(await post(8, 'abcd')).toEqual({ status: 200, text: 'ok abcd' });
  });

  it('refuses a body over the limit', async () => {
    expect((await post(3, 'abcd')).status).toBe(413);
  });
});
