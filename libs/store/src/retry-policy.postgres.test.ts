import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CairnError, StoreUnreachableError } from '@cairn/schema';
import { RETRIED_METHODS, retryUnreachable } from './connection-errors.ts';
import { hostEmbeddedStore, type Store } from './index.ts';
import { SqlStore } from './sql-store.ts';
import { openStoreThroughProxy, type TcpProxy } from './tcp-proxy.ts';
import { testDrivers } from './testing.ts';

/** Where the store under test lives: the embedded store's host always, PostgreSQL when DATABASE_URL names one. */
interface Target {
  name: string;
  open(): Promise<{ url: string; close(): Promise<void> }>;
}

const postgres = testDrivers().find((e) => e.name === 'postgres');
const targets: Target[] = [
  {
    name: 'the embedded store host',
    async open() {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-retry-'));
      const hosted = await hostEmbeddedStore({ home });
      return {
        url: hosted.url,
        close: async () => {
          await hosted.close();
          fs.rmSync(home, { recursive: true, force: true });
        },
      };
    },
  },
  ...(postgres
    ? [
        {
          name: 'PostgreSQL',
          async open() {
            const { url } = await postgres.fresh();
            return { url: url!, close: () => postgres.cleanup() };
          },
        },
      ]
    : []),
];

describe.each(targets)('a lost acknowledgement, on $name', (target) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** A store that reaches `target` through a proxy the test controls. */
  async function throughProxy(): Promise<{ store: Store; proxy: TcpProxy }> {
    const server = await target.open();
    cleanups.push(server.close);
    return openStoreThroughProxy(server.url, cleanups);
  }

  it("setModelAlias whose COMMIT was answered but the answer lost writes its history row once; the caller hears STORE_UNREACHABLE", async () => {
    const { store, proxy } = await throughProxy();
    await store.registerModelVersion({ name: 'lost-ack', artifactHash: 'a'.repeat(64) });
    // A worker's store: retries what it may on a lost connection.
    const patient = retryUnreachable(store, { windowMs: 20_000, baseDelayMs: 50, maxDelayMs: 200 });
    const lost = proxy.loseNextAnswer((sent) => /\bcommit\b/i.test(sent.toString('latin1')));
    const outcome = await patient.setModelAlias('lost-ack', 'production', 1).then(
      () => 'answered',
      (e: unknown) => (e instanceof CairnError ? e.code : String(e)),
    );
    await lost;
    // The move committed once; sending it again would have written a second history row.
    expect(await store.aliasHistory('lost-ack', 'production')).toHaveLength(1);
    expect((await store.resolveModelVersion('lost-ack', 'production')).version).toBe(1);
    // The outcome is unknown to the caller, who is told so rather than given a retry's answer.
    expect(outcome).toBe('STORE_UNREACHABLE');
  });

  it('logMetrics whose answer was lost is sent again and stores each point once', async () => {
    const { store, proxy } = await throughProxy();
    const exp = await store.ensureExperiment({ name: 'lost-ack' });
    const run = await store.createRun({ experimentId: exp.id });
    const patient = retryUnreachable(store, { windowMs: 20_000, baseDelayMs: 50, maxDelayMs: 200 });
    const lost = proxy.loseNextAnswer((sent) => /INSERT INTO metrics/i.test(sent.toString('latin1')));
    const points = Array.from({ length: 50 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), step: i }));
    await patient.logMetrics(run.id, points);
    await lost;
    expect((await store.getMetricSummaries(run.id)).loss?.count).toBe(50);
  });
});

describe('which Store methods are retried', () => {
  it('names only methods the store has', () => {
    const missing = RETRIED_METHODS.filter((m) => typeof (SqlStore.prototype as unknown as Record<string, unknown>)[m] !== 'function');
    expect(missing).toEqual([]);
  });

  it('retries a listed method, and not one the list does not name (a method added later)', async () => {
    const calls: Record<string, number> = { getRun: 0, somethingNew: 0 };
    const flaky = (name: string) => async () => {
      calls[name]!++;
      if (calls[name] === 1) throw new StoreUnreachableError('connection lost');
      return name;
    };
    const store = { getRun: flaky('getRun'), somethingNew: flaky('somethingNew') } as unknown as Store & { somethingNew(): Promise<string> };
    const patient = retryUnreachable(store, { windowMs: 5_000, baseDelayMs: 1, maxDelayMs: 2 }) as typeof store;
    await expect(patient.getRun('x')).resolves.toBe('getRun');
    await expect(patient.somethingNew()).rejects.toMatchObject({ code: 'STORE_UNREACHABLE' });
    expect(calls).toEqual({ getRun: 2, somethingNew: 1 });
  });

  it.each(['createProject', 'createRun', 'createExperiment', 'addNote', 'registerModelVersion', 'setModelAlias', 'recordDeployment', 'startRun', 'deleteRun', 'markLostRuns'])(
    '%s is not retried: sent twice it would act twice, or answer as if it had not acted',
    (method) => {
      expect(RETRIED_METHODS).not.toContain(method);
    },
  );
});
