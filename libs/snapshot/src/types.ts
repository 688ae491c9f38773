/**
 * Content-addressed dataset snapshots. Every object (file chunk, manifest node) is a
 * blob named by the BLAKE3 hash of its bytes: 32 bytes, written as 64 lowercase hex
 * characters. The root manifest node's id is the snapshot id.
 */
export type BlobId = string;

/**
 * Where blobs live. The local filesystem implementation comes first; an S3-compatible
 * one must fit behind the same interface without touching callers.
 */
export interface BlobStore {
  /** Human-readable location, for messages. */
  readonly location: string;
  has(id: BlobId): Promise<boolean>;
  /**
   * Stores bytes under their hash and returns it. Atomic: a reader never sees a
   * partial blob under its final name (temp file, fsync, rename). Idempotent.
   */
  put(bytes: Uint8Array, options?: PutOptions): Promise<BlobId>;
  /** Announces work that relies on present blobs; gc deletes nothing while one is held. */
  acquireLease?(purpose: string): Promise<() => Promise<void>>;
  /** Leases held by live processes. */
  activeLeases?(): Promise<{ purpose: string; pid: number; host: string; since: string }[]>;
  /** Marks a blob as used now (gc's grace period protects it); false when absent. */
  touch(id: BlobId): Promise<boolean>;
  /** Stores bytes whose hash the caller already computed (skips re-hashing). */
  putKnown(id: BlobId, bytes: Uint8Array, options?: PutOptions): Promise<void>;
  /** Reads a blob; with `verify` (default true) re-hashes it and throws BlobCorruptError on mismatch. */
  get(id: BlobId, options?: { verify?: boolean }): Promise<Uint8Array>;
  /** Every stored blob id (for gc and verify); order unspecified. */
  list(): AsyncIterable<BlobId>;
  delete(id: BlobId): Promise<void>;
  /** Size in bytes, or null when absent. */
  size(id: BlobId): Promise<number | null>;
}

export interface PutOptions {
  /**
   * Skip this blob's own fsync: the caller runs an unsynced batch (durability.ts) that
   * syncs once at its end. Stores without such a notion (an object store) ignore it.
   */
  deferSync?: boolean;
}

/** One file in a manifest. Paths are relative, '/'-separated, normalised, never absolute or with '..'. */
export interface FileEntry {
  kind: 'file';
  name: string;
  mode: number;
  size: number;
  mtimeMs: number;
  /** Chunk ids in order; a file up to 4 MiB is one chunk; an empty file has none. */
  chunks: BlobId[];
}

export interface SymlinkEntry {
  kind: 'symlink';
  name: string;
  /** The link's target text, recorded as is and never followed. */
  target: string;
}

export interface DirEntry {
  kind: 'dir';
  name: string;
  /** Id of the child directory node blob. */
  id: BlobId;
  /** Totals of the subtree, so diff can report sizes without descending. */
  files: number;
  bytes: number;
}

export type TreeEntry = FileEntry | SymlinkEntry | DirEntry;

/** A directory node: entries sorted by name (byte order), serialised canonically; its blob id hashes that. */
export interface TreeNode {
  version: 1;
  entries: TreeEntry[];
}
