/**
 * What the API runs on, opened once per server process and only when the first
 * request needs it (never at import time, so `next build` opens nothing):
 *
 * - the store: DATABASE_URL (PostgreSQL, or the URL of a process that hosts an
 *   embedded store, as `cairn ui` passes it), else CAIRN_HOME (default ./.cairn) as
 *   the CLI resolves it. An embedded store is hosted by this process (or joined, when
 *   another process hosts it already), so CLI commands and workers can use it while
 *   the portal runs;
 * - the queues: Redis at REDIS_URL (default redis://127.0.0.1:6379) with the BullMQ
 *   prefix CAIRN_QUEUE_PREFIX (default `cairn`). When Redis does not answer, the
 *   portal runs without queues (the API answers PRECONDITION_FAILED for them).
 *
 * - access: CAIRN_AUTH (unset/local: one user, no login, answering only requests
 *   addressed to localhost, an IP address or a name in CAIRN_ALLOWED_HOSTS; team:
 *   accounts through better-auth, CAIRN_AUTH_SECRET required), see libs/api's README.
 *
 * The promise lives on globalThis so `next dev` reloads do not open a second store.
 */
import type { Store } from '@cairn/store';
import type { ApiAccess, ApiQueues } from '@cairn/api';
import { blobRootFor, readConfig } from '@cairn/config';

type OpenQueues = ApiQueues & { close(): Promise<void> };

export interface ServerDeps {
  store: Store;
  queues: OpenQueues | null;
  /** Why the queues are off, for logs and /api/ready. */
  queuesError: string | null;
  /** Local (one user, no login) or team mode (better-auth), from CAIRN_AUTH. */
  access: ApiAccess;
  /** Where snapshot manifests are read: CAIRN_BLOBS, else <home>/blobs. */
  blobRoot: string;
}

const REDIS_TIMEOUT_MS = 1_500;

const slot = globalThis as typeof globalThis & { __cairnWebDeps?: Promise<ServerDeps> };

export function getDeps(): Promise<ServerDeps> {
  if (!slot.__cairnWebDeps) {
    slot.__cairnWebDeps = openDeps().catch((e: unknown) => {
      // A store that failed to open (locked, unreachable) is tried again on the next request.
      slot.__cairnWebDeps = undefined;
      throw e;
    });
  }
  return slot.__cairnWebDeps;
}

async function openDeps(): Promise<ServerDeps> {
  // The portal's one read of its environment; a bad value fails every request with its message.
  const config = readConfig(process.env);
  const { cairnHome, hostEmbeddedStore, openStore, resolveLocation } = await import('@cairn/store');
  const location = resolveLocation({ url: config.databaseUrl, home: config.home });
  // hostEmbeddedStore's store.close() also stops serving and releases CAIRN_HOME.
  const store = location.driver === 'pglite' ? (await hostEmbeddedStore({ home: location.home })).store : await openStore({ url: location.url });
  let access: ApiAccess;
  try {
    // CAIRN_AUTH=team needs CAIRN_AUTH_SECRET: a bad setting fails every request with its message.
    const { apiAccessFor } = await import('@cairn/api');
    access = apiAccessFor(store, config);
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  const { queues, error } = await openQueues(config);
  if (error) console.warn(`[cairn web] queues unavailable: ${error}`);
  closeOnExit(store, queues);
  return { store, queues, queuesError: error, access, blobRoot: blobRootFor(config, cairnHome(config.home)) };
}

async function openQueues(config: ReturnType<typeof readConfig>): Promise<{ queues: OpenQueues | null; error: string | null }> {
  try {
    const { connectApiQueues } = await import('@cairn/api');
    return { queues: await connectApiQueues({ url: config.redisUrl, prefix: config.queuePrefix, timeoutMs: REDIS_TIMEOUT_MS }), error: null };
  } catch (e) {
    return { queues: null, error: e instanceof Error ? e.message : String(e) };
  }
}

function closeOnExit(store: Store, queues: OpenQueues | null): void {
  let closing = false;
  const close = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    void Promise.allSettled([store.close(), queues?.close()]).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
}
