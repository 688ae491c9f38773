/**
 * Everything a browser test runs against, fresh per test file and removed afterwards:
 *
 * - a store: a new PostgreSQL database (testPostgres(), next to DATABASE_URL's) when
 *   DATABASE_URL is set, else a new embedded store (PGlite) in a temp CAIRN_HOME;
 * - a blob store (snapshot manifests, code bundles) in that temp directory, which the
 *   portal is pointed at with CAIRN_BLOBS;
 * - the tier queues in Redis (REDIS_URL, default 127.0.0.1:6379) under a queue prefix of
 *   their own, so nothing else using that Redis sees these jobs (and no worker takes them).
 *
 * On the embedded store the portal hosts CAIRN_HOME once it runs (src/server/deps.ts),
 * so the test seeds first, closes its store, starts the portal, and only then opens the
 * store again (which then joins the portal's host).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { DEFAULT_REDIS_URL, TierQueues, connectRedis, deleteQueueKeys } from '@cairn/pipeline';
import { LocalBlobStore } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { testPostgres } from '@cairn/store/testing';
import type { PortalEnv } from './portal.ts';

export interface World {
  engine: 'postgres' | 'pglite';
  dir: string;
  blobs: LocalBlobStore;
  redis: Redis;
  prefix: string;
  queues: TierQueues;
  /** Opens the store (the caller closes it). */
  openStore(): Promise<Store>;
  /** The environment that points a portal at this world. */
  portalEnv(): PortalEnv;
  close(): Promise<void>;
}

export async function createWorld(): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-web-e2e-'));
  const home = path.join(dir, 'home');
  const blobsDir = path.join(dir, 'blobs');
  fs.mkdirSync(home);
  const cleanups: (() => Promise<unknown> | void)[] = [() => fs.rmSync(dir, { recursive: true, force: true })];
  try {
    const pgdb = process.env.DATABASE_URL ? await testPostgres() : null;
    if (pgdb) cleanups.unshift(() => pgdb.drop());
    const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
    const redis = await connectRedis(url, { timeoutMs: 3_000 });
    const prefix = `cairn-e2e-${randomBytes(4).toString('hex')}`;
    const queues = new TierQueues(redis, prefix);
    cleanups.unshift(async () => {
      await queues.close();
      await deleteQueueKeys(redis, prefix);
      redis.disconnect();
    });
    return {
      engine: pgdb ? 'postgres' : 'pglite',
      dir,
      blobs: new LocalBlobStore(blobsDir),
      redis,
      prefix,
      queues,
      openStore: () => (pgdb ? openStore({ url: pgdb.url }) : openStore({ home })),
      portalEnv: () => ({
        ...(pgdb ? { DATABASE_URL: pgdb.url } : { CAIRN_HOME: home }),
        CAIRN_BLOBS: blobsDir,
        REDIS_URL: url,
        CAIRN_QUEUE_PREFIX: prefix,
      }),
      async close() {
        for (const c of cleanups) await Promise.resolve(c()).catch((e: unknown) => console.warn(`e2e cleanup: ${String(e)}`));
      },
    };
  } catch (e) {
    for (const c of cleanups) await Promise.resolve(c()).catch(() => {});
    throw e;
  }
}

