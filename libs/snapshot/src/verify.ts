import { BlobCorruptError, BlobNotFoundError, InvalidBlobIdError, ManifestError, UnsafePathError } from './errors.ts';
import { decodeTree } from './manifest.ts';
import type { BlobId, BlobStore } from './types.ts';

export interface BadBlob {
  blob: BlobId;
  /** A tree node (a folder's listing) or a chunk of file data. */
  kind: 'tree' | 'chunk';
  /** For a chunk, the files that use it; for a tree node, its folder ('.' for a root). Sorted. */
  files: string[];
  /** The snapshots (of those verified) that use it, sorted. */
  snapshots: BlobId[];
}

export interface VerifyResult {
  /** Distinct blobs read and re-hashed (tree nodes and chunks). */
  checked: number;
  /** Stored, but the bytes no longer hash to the name. */
  corrupt: BadBlob[];
  missing: BadBlob[];
  /** Could not be read at all (a folder where the file was, EIO, permissions); `reason` says why. */
  unreadable: (BadBlob & { reason: string })[];
  /**
   * Tree nodes whose bytes are intact but are no valid tree (a recorded snapshot id that
   * names a file's chunk, a malformed id, a node no Cairn wrote); `reason` says why.
   */
  invalid: (BadBlob & { reason: string })[];
}

type ReadState = { state: 'ok' } | { state: 'corrupt' } | { state: 'missing' } | { state: 'unreadable'; reason: string };

/**
 * Re-hashes every blob the given snapshots reference, each once however many files or
 * snapshots share it, and reports every damaged one with the files and snapshots it
 * affects. A damaged tree node cannot be listed, so what lies under it is not reached
 * (its folder is named instead); everything else is still checked: one bad blob never
 * hides another.
 */
export async function verify(ids: BlobId[], options: { store: BlobStore }): Promise<VerifyResult> {
  const { store } = options;
  const roots = new Set(ids);
  const read = new Map<BlobId, ReadState>();
  const invalid = new Map<BlobId, string>();
  const treePaths = new Map<BlobId, Set<string>>();
  const chunkPaths = new Map<BlobId, Set<string>>();
  // Child → the tree nodes that list it: how a bad blob is traced back to its snapshots.
  const parents = new Map<BlobId, Set<BlobId>>();

  const load = async (id: BlobId): Promise<Uint8Array | null> => {
    try {
      const bytes = await store.get(id);
      read.set(id, { state: 'ok' });
      return bytes;
    } catch (e) {
      if (e instanceof BlobCorruptError) read.set(id, { state: 'corrupt' });
      else if (e instanceof BlobNotFoundError) read.set(id, { state: 'missing' });
      else if (e instanceof InvalidBlobIdError) invalid.set(id, e.message);
      else if (isSystemError(e)) read.set(id, { state: 'unreadable', reason: `${e.code}: ${e.message}` });
      else throw e;
      return null;
    }
  };

  const visited = new Set<BlobId>();
  const walk = async (id: BlobId, prefix: string): Promise<void> => {
    add(treePaths, id, prefix === '' ? '.' : prefix);
    // A subtree shared between snapshots (or directories) is walked once; only its first path is named for its files.
    if (visited.has(id)) return;
    visited.add(id);
    const bytes = await load(id);
    if (!bytes) return;
    let node;
    try {
      node = decodeTree(bytes, id);
    } catch (e) {
      if (!(e instanceof ManifestError || e instanceof UnsafePathError)) throw e;
      invalid.set(id, e.message);
      return;
    }
    for (const e of node.entries) {
      const p = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.kind === 'dir') {
        add(parents, e.id, id);
        await walk(e.id, p);
      } else if (e.kind === 'file') {
        for (const c of e.chunks) {
          add(chunkPaths, c, p);
          add(parents, c, id);
        }
      }
    }
  };

  for (const id of roots) await walk(id, '');
  for (const id of chunkPaths.keys()) if (!read.has(id)) await load(id);

  const snapshotsOf = (id: BlobId): BlobId[] => {
    const found = new Set<BlobId>();
    const seen = new Set<BlobId>([id]);
    const queue = [id];
    while (queue.length) {
      const cur = queue.pop()!;
      if (roots.has(cur)) found.add(cur);
      for (const p of parents.get(cur) ?? []) {
        if (seen.has(p)) continue;
        seen.add(p);
        queue.push(p);
      }
    }
    return [...found].sort();
  };
  // One entry per way the blob is used: a blob can be both a tree node and a chunk.
  const describe = (id: BlobId): BadBlob[] => {
    const out: BadBlob[] = [];
    const snapshots = snapshotsOf(id);
    const asTree = treePaths.get(id);
    const asChunk = chunkPaths.get(id);
    if (asTree) out.push({ blob: id, kind: 'tree', files: [...asTree].sort(), snapshots });
    if (asChunk) out.push({ blob: id, kind: 'chunk', files: [...asChunk].sort(), snapshots });
    return out;
  };
  const byBlob = (a: BadBlob, b: BadBlob) => (a.blob < b.blob ? -1 : a.blob > b.blob ? 1 : a.kind < b.kind ? -1 : 1);
  const withState = (state: ReadState['state']) =>
    [...read]
      .filter(([, s]) => s.state === state)
      .flatMap(([id, s]) => describe(id).map((b) => (s.state === 'unreadable' ? { ...b, reason: s.reason } : b)))
      .sort(byBlob);

  return {
    checked: read.size,
    corrupt: withState('corrupt'),
    missing: withState('missing'),
    unreadable: withState('unreadable') as (BadBlob & { reason: string })[],
    invalid: [...invalid]
      .map(([id, reason]) => ({ ...describe(id).find((b) => b.kind === 'tree')!, reason }))
      .sort(byBlob),
  };
}

function add(map: Map<string, Set<string>>, key: string, value: string): void {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(value);
}

/** A Node.js system error (EISDIR, EIO, EACCES, …): about this blob's file, not a bug. */
function isSystemError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}
