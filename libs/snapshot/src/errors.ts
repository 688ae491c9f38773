import { CairnError, ValidationError } from '@cairn/schema';
import type { BlobId } from './types.ts';

/** A stored blob whose bytes no longer hash to its name: disk damage or tampering. */
export class BlobCorruptError extends CairnError {
  constructor(
    readonly id: BlobId,
    readonly expected: string,
    readonly actual: string,
    readonly location: string,
  ) {
    super('STORE_DAMAGED', `blob ${id} in ${location} is corrupt: its bytes hash to ${actual}; delete it and push or snapshot again to restore it`);
  }
}

export class BlobNotFoundError extends CairnError {
  constructor(
    readonly id: BlobId,
    readonly location: string,
  ) {
    super('NOT_FOUND', `blob ${id} not found in ${location}`);
  }
}

/** A blob id that is not 64 lowercase hex; rejected before any path is built from it. */
export class InvalidBlobIdError extends CairnError {
  constructor(readonly id: string) {
    super('INVALID_INPUT', `invalid blob id '${id.length > 80 ? `${id.slice(0, 80)}…` : id}': expected 64 lowercase hex characters`);
  }
}

/** Writing a blob failed (disk full, permissions); nothing was left under the blob's name. */
export class BlobWriteError extends CairnError {
  constructor(
    readonly id: BlobId,
    readonly location: string,
    readonly errno: string | undefined,
    options?: { cause?: unknown },
  ) {
    super('STORE_DAMAGED', `could not write blob ${id} to ${location}${errno ? ` (${errno})` : ''}: ${describe(errno)}`, options);
  }
}

function describe(errno: string | undefined): string {
  switch (errno) {
    case 'ENOSPC':
      return 'the disk is full; free space and retry';
    case 'EDQUOT':
      return 'the disk quota is exhausted; free space and retry';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; check the ownership of the blob store folder';
    case 'EROFS':
      return 'the filesystem is read-only';
    default:
      return 'see the cause for details';
  }
}

/**
 * A path, tree name or manifest that cannot be trusted. Kept as INVALID_INPUT because
 * every case is either a user's bad argument or a hostile/malformed manifest, and callers
 * must refuse it before touching the filesystem.
 */
export class UnsafePathError extends CairnError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('INVALID_INPUT', `unsafe path ${JSON.stringify(path)}: ${reason}`);
  }
}

/** A manifest node that fails validation; `where` names the directory being decoded when known. */
export class ManifestError extends ValidationError {}

/** A dataset directory that cannot be listed (permissions, vanished mid-walk, not a directory). */
export class WalkError extends CairnError {
  constructor(
    readonly path: string,
    readonly errno: string | undefined,
    options?: { cause?: unknown },
  ) {
    super('INVALID_INPUT', `cannot list directory ${JSON.stringify(path)}${errno ? ` (${errno})` : ''}`, options);
  }
}

/** A dataset file that cannot be opened or read: the snapshot stops rather than silently leave it out. */
export class FileReadError extends CairnError {
  constructor(
    readonly path: string,
    readonly errno: string | undefined,
    options?: { cause?: unknown },
  ) {
    super('INVALID_INPUT', `cannot read file ${JSON.stringify(path)}${errno ? ` (${errno})` : ''}: ${errno === 'EACCES' || errno === 'EPERM' ? 'permission denied; fix its permissions or move it out of the dataset' : errno === 'ENOENT' ? 'it was removed while the snapshot ran; snapshot again' : 'see the cause for details'}`, options);
  }
}
