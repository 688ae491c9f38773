export * from './types.ts';
export * from './errors.ts';
export { hashBytes, hashFile, isBlobId, type FileHash } from './hash.ts';
export { FastCdc, chunkBoundaries, SINGLE_CHUNK_LIMIT, DEFAULT_CDC_PARAMS, type CdcParams } from './fastcdc.ts';
export { LocalBlobStore, defaultBlobRoot } from './blob-store.ts';
export { beginUnsyncedBatch, recoverUnsynced, type UnsyncedBatch, type RecoveryResult } from './durability.ts';
export { HashPool, type FileChunks } from './hash-pool.ts';
export { normalizeRelative, safeJoin, assertNoSymlinkParents } from './paths.ts';
export { encodeTree, decodeTree, buildTree, readTree, diffTrees, symlinkEscapes, type TreeDiff, type ReadEntry } from './manifest.ts';
export { walkTree, statFile, type WalkResult, type WalkEntry, type SkippedEntry } from './walk.ts';
export { StatCache } from './stat-cache.ts';
export { snapshotDir, FileChangedError, type SnapshotOptions, type SnapshotResult, type SnapshotProgress } from './snapshot.ts';
export { checkout, CheckoutBlobCorruptError, type CheckoutOptions, type CheckoutResult } from './checkout.ts';
export { verify, type VerifyResult, type BadBlob } from './verify.ts';
export { gc, GcAbortedError, GcBusyError, DEFAULT_GC_GRACE_MS, type GcRoot, type GcStore, type GcBlobInfo, type GcOptions, type GcResult } from './gc.ts';
export { CsvParser, parseCsv } from './csv.ts';
export {
  profileSnapshot,
  diffProfiles,
  diffTables,
  extensionOf,
  DEFAULT_MAX_TABLE_BYTES,
  type ColumnType,
  type ColumnProfile,
  type LabelProfile,
  type TableProfile,
  type ExtensionStats,
  type SnapshotProfile,
  type ProfileOptions,
  type ProfileDiff,
} from './profile.ts';
export { inSubset, subsetRows, subsetPosition } from './subset.ts';
