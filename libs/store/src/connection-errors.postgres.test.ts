import { afterAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { openStore, retryUnreachable, type Store } from './index.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
import { testDrivers } from './testing.ts';

const postgres = testDrivers().find((e) => e.name === 'postgres');

/**
 * PostgreSQL dropping off the network mid-session, for real: the store talks to the
 * server through a TCP proxy that the test cuts (every connection reset, new ones
 * refused) and restores. Runs where DATABASE_URL names a server (CI does).
 */
describe.skipIf(!postgres)('PostgreSQL lost and back (through a cut TCP proxy)', () => {
  let proxy: TcpProxy;
  let store: Store;
  afterAll(async () => {
    await store?.close().catch(() => undefined);
    await proxy?.close();
    await postgres?.cleanup();
  });

  async function open(): Promise<Store> {
    const { url } = await postgres!.fresh();
    const u = new URL(url!);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    store = await openStore({ url: u.toString(), connectTimeoutMs: 2_000 });
    return store;
  }

  it('a lost connection is STORE_UNREACHABLE; a refused query keeps its own code; the retrying store rides out the gap', async () => {
    const s = await open();
    const exp = await s.ensureExperiment({ name: 'outage' });
    const run = await s.createRun({ experimentId: exp.id });
    await s.logMetrics(run.id, [{ key: 'loss', value: 1, step: 0 }]);

    proxy.cut();
    for (const call of [() => s.logMetrics(run.id, [{ key: 'loss', value: 0.5, step: 1 }]), () => s.getRun(run.id)]) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CairnError);
      expect((err as CairnError).code).toBe('STORE_UNREACHABLE');
      expect((err as CairnError).message).toMatch(/PostgreSQL at .* cannot be reached/);
    }

    // A retrying store waits for the server instead of failing; the point lands once.
    // The server comes back after the second failed attempt (counted, not timed: a
    // loaded machine may make fewer attempts in any given time).
    const retries: string[] = [];
    const onRetry = (m: string) => retries.push(m) === 2 && proxy.restore();
    const patient = retryUnreachable(s, { windowMs: 30_000, baseDelayMs: 100, maxDelayMs: 500, onRetry });
    const accepted = proxy.accepted;
    await patient.logMetrics(run.id, [{ key: 'loss', value: 0.5, step: 1 }]);
    expect(retries.length).toBeGreaterThan(1);
    expect(retries.every((m) => m === 'logMetrics')).toBe(true);
    expect(proxy.accepted).toBeGreaterThan(accepted); // it reconnected
    // Sent again after the cut, the same points are not stored twice.
    await patient.logMetrics(run.id, [{ key: 'loss', value: 0.5, step: 1 }]);
    const series = await s.getMetricSeries(run.id, 'loss', { maxPoints: 100 });
    expect(series.points.map((p) => [p.step, p.value])).toEqual([
      [0, 1],
      [1, 0.5],
    ]);

    // Errors that are not about the connection are never retried or renamed.
    const missing = await patient.getRun('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e);
    expect((missing as CairnError).code).toBe('NOT_FOUND');

    // Past its window the retrying store gives up with STORE_UNREACHABLE.
    proxy.cut();
    const brief = retryUnreachable(s, { windowMs: 600, baseDelayMs: 100, maxDelayMs: 200 });
    const started = Date.now();
    const gaveUp = await brief.getRun(run.id).catch((e: unknown) => e);
    expect((gaveUp as CairnError).code).toBe('STORE_UNREACHABLE');
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    proxy.restore();
  }, 60_000);
});
