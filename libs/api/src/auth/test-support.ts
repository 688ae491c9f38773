import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/**
 * A real HTTP server for a fetch-style handler (node:http on port 0), so tests go
 * through sockets, headers and cookies as a browser or the CLI would. The handler is
 * set after listening: better-auth wants the server's URL as its baseURL.
 */
export async function serve(): Promise<{ url: string; use(handler: (req: Request) => Promise<Response>): void; close(): Promise<void> }> {
  let handler: ((req: Request) => Promise<Response>) | null = null;
  const server = http.createServer(async (req, res) => {
    try {
      const url = `http://${req.headers.host}${req.url}`;
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
        else if (v !== undefined) headers.set(k, v);
      }
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const request = new Request(url, { method: req.method, headers, body: hasBody ? (Readable.toWeb(req) as ReadableStream) : undefined, duplex: 'half' } as RequestInit);
      const response = await handler!(request);
      const out: Record<string, string | string[]> = {};
      response.headers.forEach((v, k) => {
        if (k !== 'set-cookie') out[k] = v;
      });
      const cookies = response.headers.getSetCookie();
      if (cookies.length) out['set-cookie'] = cookies;
      res.writeHead(response.status, out);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    use: (h) => {
      handler = h;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A browser's cookies for one origin, carried by hand: what Set-Cookie set, sent back as Cookie. */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get size(): number {
    return this.#cookies.size;
  }
}

/** A fetch that keeps a jar and sends the Origin better-auth checks on state-changing requests. */
export function client(base: string, jar = new CookieJar()) {
  return {
    jar,
    async fetch(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
      const headers = new Headers(init.headers);
      if (jar.size) headers.set('cookie', jar.header());
      headers.set('origin', base);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(init.json);
      }
      const res = await fetch(base + path, { ...init, headers, body });
      jar.take(res);
      return res;
    },
  };
}
