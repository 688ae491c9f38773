import { LocalBlobStore, defaultBlobRoot } from '@cairn/snapshot';
import type { Store } from '@cairn/store';
import { LOCAL_VIEWER, type Viewer } from './access.ts';
import type { CairnAuth } from './auth/create-auth.ts';
import type { ApiQueues } from './queues.ts';

/** Reads content-addressed blobs (snapshot manifests), as LocalBlobStore#get does. */
export interface BlobReader {
  get(id: string): Promise<Uint8Array>;
}

export interface ContextOptions {
  store: Store;
  /** The training queues; null or absent: queue views say unavailable, queue actions fail with PRECONDITION_FAILED. */
  queues?: ApiQueues | null;
  /** Who is asking; local mode (one user, everything allowed) when absent. */
  viewer?: Viewer;
  /** Where snapshot manifests are read for diffs; else a LocalBlobStore at `blobRoot`. */
  blobs?: BlobReader;
  /** The blob store folder the app resolved (CAIRN_BLOBS, else CAIRN_HOME/blobs); default ./.cairn/blobs. */
  blobRoot?: string;
  /** Team mode's better-auth instance (teams.create and addMember go through it); absent in local mode. */
  auth?: CairnAuth | null;
}

export interface Context {
  store: Store;
  queues: ApiQueues | null;
  viewer: Viewer;
  auth: CairnAuth | null;
  /** Opened on first use: most requests never read a blob. */
  blobs: () => BlobReader;
}

export function createContext(options: ContextOptions): Context {
  let blobs: BlobReader | null = options.blobs ?? null;
  return {
    store: options.store,
    queues: options.queues ?? null,
    viewer: options.viewer ?? LOCAL_VIEWER,
    auth: options.auth ?? null,
    blobs: () => (blobs ??= new LocalBlobStore(options.blobRoot ?? defaultBlobRoot())),
  };
}
