import net from 'node:net';
import { openStore } from './open-store.ts';
import type { Store } from './types.ts';

/**
 * A TCP proxy for fault tests: clients connect to `port` and are piped to the real
 * server. `cut()` resets every open connection and refuses new ones (what a client sees
 * when the database host drops off the network or restarts); `restore()` lets them
 * through again; `loseNextAnswer()` stages a lost acknowledgement. The server behind it
 * is never touched, so other tests sharing it carry on.
 */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far (a reconnect after restore() shows up here). */
  readonly accepted: number;
  cut(): void;
  restore(): void;
  /**
   * Once: the first client bytes that `sent` matches go through to the server, whose
   * answer to them never reaches the client: that connection is reset as the answer
   * arrives (the server has done the work: a COMMIT has committed). New connections
   * go through as usual. Resolves when the answer has been dropped.
   */
  loseNextAnswer(sent: (clientBytes: Buffer) => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let down = false;
  let accepted = 0;
  let lose: { sent: (b: Buffer) => boolean; lost: () => void } | null = null;
  const server = net.createServer((client) => {
    if (down) return void client.resetAndDestroy();
    accepted++;
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    let doomed: (() => void) | null = null;
    client.on('data', (d: Buffer) => {
      if (lose?.sent(d)) {
        doomed = lose.lost;
        lose = null;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!doomed) return void client.write(d);
      client.resetAndDestroy();
      upstream.destroy();
      doomed();
      doomed = null;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    cut() {
      down = true;
      for (const s of open) s.resetAndDestroy();
    },
    restore() {
      down = false;
    },
    loseNextAnswer(sent) {
      return new Promise<void>((lost) => (lose = { sent, lost }));
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * For fault tests: a store on the PostgreSQL at `serverUrl` reached through a proxy the
 * test controls (cut it, lose an answer). What must be closed afterwards goes on `cleanups`
 * (the proxy, then the store), for the caller to run in reverse.
 */
export async function openStoreThroughProxy(serverUrl: string, cleanups: (() => Promise<void>)[]): Promise<{ store: Store; proxy: TcpProxy }> {
  const u = new URL(serverUrl);
  const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
  cleanups.push(() => proxy.close());
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  const store = await openStore({ url: u.toString(), connectTimeoutMs: 2_000 });
  cleanups.push(() => store.close());
  return { store, proxy };
}
