import type { PrivateRedis, TierQueues } from '@cairn/pipeline';
import { hostEmbeddedStore, openStore, redactUrl, resolveLocation, type Store } from '@cairn/store';
import { storeOptions, type GlobalOptions } from './context.ts';
import { pipelineLib, type PipelineContext, type RedisConnection } from './pipeline.ts';

/**
 * What the long-lived commands (`cairn demo`, `cairn ui`, `cairn up`) run on: the store,
 * opened so other processes can share it, and Redis when there is one.
 */
export interface Services {
  store: Store;
  /** How another process reaches this store (the portal's and a worker's DATABASE_URL). */
  storeUrl: string;
  /** Where it is, for messages. */
  storeLabel: string;
  redis: { url: string; connection: RedisConnection; queues: TierQueues; private: PrivateRedis | null } | null;
  /** Why there is no Redis, when there is none. */
  noRedis: string | null;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Do not look for Redis at all. */
  noRedis?: boolean;
  /** Start a private `redis-server` when nothing answers and one is installed. */
  privateRedis?: boolean;
  log: (line: string) => void;
}

/**
 * Opens the store and Redis. The embedded store (PGlite) is hosted: this process owns it
 * and serves it on a loopback port, so the portal, a worker and CLI commands started
 * meanwhile all reach the same data. PostgreSQL is simply opened.
 */
export async function openServices(g: GlobalOptions, ctx: PipelineContext, o: ServiceOptions): Promise<Services> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  };
  try {
    const loc = resolveLocation(storeOptions(g));
    let store: Store;
    let storeUrl: string;
    let storeLabel: string;
    if (loc.driver === 'pglite') {
      const host = await hostEmbeddedStore({ home: loc.home });
      cleanups.push(() => host.close());
      store = host.store;
      storeUrl = host.url;
      storeLabel = `embedded store in ${loc.home} (shared on ${redactUrl(host.url)})`;
    } else {
      store = await openStore(storeOptions(g));
      cleanups.push(() => store.close());
      storeUrl = loc.url;
      storeLabel = `PostgreSQL at ${redactUrl(loc.url)}`;
    }

    let redis: Services['redis'] = null;
    let noRedis: string | null = o.noRedis ? 'asked not to use Redis' : null;
    if (!o.noRedis) {
      const lib = await pipelineLib();
      let url = ctx.redisUrl;
      let priv: PrivateRedis | null = null;
      let connection: RedisConnection | null = null;
      try {
        connection = await lib.connectRedis(url, { timeoutMs: 1_000 });
      } catch {
        if (o.privateRedis && lib.redisServerInstalled()) {
          priv = await lib.startRedisServer();
          cleanups.push(() => priv!.stop());
          url = priv.url;
          o.log(`No Redis at ${redactUrl(ctx.redisUrl)}: started a private redis-server on ${url} (it keeps nothing on disk)`);
          connection = await lib.connectRedis(url, { timeoutMs: 2_000 });
        } else {
          noRedis = `no Redis answers at ${redactUrl(ctx.redisUrl)}${o.privateRedis ? ' and redis-server is not installed' : ''}`;
        }
      }
      if (connection) {
        const c = connection;
        const queues = new lib.TierQueues(c, ctx.prefix);
        cleanups.push(() => c.quit().catch(() => c.disconnect()));
        cleanups.push(() => queues.close());
        redis = { url, connection: c, queues, private: priv };
      }
    }
    return { store, storeUrl, storeLabel, redis, noRedis, close };
  } catch (e) {
    await close();
    throw e;
  }
}
