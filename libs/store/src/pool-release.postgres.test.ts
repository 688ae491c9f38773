import { afterEach, describe, expect, it } from 'vitest';
import { CLOSE_GRACE_MS } from './driver.ts';
import type { Store } from './index.ts';
import { openStoreThroughProxy, type TcpProxy } from './tcp-proxy.ts';
import { testDrivers } from './testing.ts';

/**
 * A store whose connections are cut mid-use must still serve and still close. A worker
 * whose PostgreSQL connection was cut during a run was seen waiting in close() forever
 * (its pool still counting a client that never came back); close() now waits at most
 * CLOSE_GRACE_MS for such a client, then cuts it.
 */
interface Target {
  name: string;
  open(): Promise<{ url: string; close(): Promise<void> }>;
}

const postgres = testDrivers().find((e) => e.name === 'postgres');
// PostgreSQL only: the embedded store's host is reached through the same driver, and each
// case there costs ~30 s of host start and stop on two cores.
const targets: Target[] = postgres ? [{ name: 'PostgreSQL', open: async () => ({ url: (await postgres.fresh()).url!, close: () => postgres.cleanup() }) }] : [];

const within = <T>(ms: number, p: Promise<T>): Promise<T | 'timed out'> => Promise.race([p, new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), ms).unref())]);

describe.each(targets)('connections cut under a store, on $name', (target) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await within(10_000, c().catch(() => undefined));
  });

  async function throughProxy(): Promise<{ store: Store; proxy: TcpProxy }> {
    const server = await target.open();
    cleanups.push(server.close);
    return openStoreThroughProxy(server.url, cleanups);
  }

  it('a transaction whose BEGIN answer is lost fails, and the store still works and closes', async () => {
    const { store, proxy } = await throughProxy();
    await store.registerModelVersion({ name: 'begin-lost', artifactHash: 'b'.repeat(64) });
    const lost = proxy.loseNextAnswer((sent) => /\bbegin\b/i.test(sent.toString('latin1')));
    const failed = store.setModelAlias('begin-lost', 'production', 1).then(() => 'answered', () => 'failed');
    expect(await within(10_000, lost.then(() => 'lost'))).toBe('lost');
    expect(await within(10_000, failed)).toBe('failed');
    // The pool still serves: the next transaction goes through on a fresh connection.
    await store.setModelAlias('begin-lost', 'production', 1);
    expect((await store.resolveModelVersion('begin-lost', 'production')).version).toBe(1);
    expect(await within(5_000, store.close().then(() => 'closed'))).toBe('closed');
  }, 60_000);

  it('close() returns when a connection never comes back, and cuts it', async () => {
    const { store } = await throughProxy();
    await store.ensureExperiment({ name: 'held' });
    // A client checked out and never released (what the stuck worker's pool held).
    const pool = (store.drizzle() as unknown as { $client: { connect(): Promise<{ release(): void }>; totalCount: number } }).$client;
    const held = await pool.connect();
    const started = Date.now();
    expect(await within(CLOSE_GRACE_MS + 10_000, store.close().then(() => 'closed'))).toBe('closed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(CLOSE_GRACE_MS - 100);
    held.release();
  }, 60_000);
});
