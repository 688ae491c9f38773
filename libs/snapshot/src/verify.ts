import { BlobCorruptError, BlobNotFoundError } from './errors.ts';
import { decodeTree } from './manifest.ts';
import type { BlobId, BlobStore } from './types.ts';

export interface BadBlob {
  blob: BlobId;
  /** Files (or, for a tree node, the directory, '.' for the root) that reference it, sorted. */
  files: string[];
}

export interface VerifyResult {
  /** Distinct blobs re-hashed (tree nodes and chunks). */
  checked: number;
  corrupt: BadBlob[];
  missing: BadBlob[];
}

/**
 * Re-hashes every blob the given snapshots reference, each once however many files or
 * snapshots share it, and names the files each corrupt or missing blob belongs to. A bad
 * tree node is reported under its directory's path and its subtree is not descended.
 */
export async function verify(ids: BlobId[], options: { store: BlobStore }): Promise<VerifyResult> {
  const { store } = options;
  const status = new Map<BlobId, 'ok' | 'corrupt' | 'missing'>();
  const owners = new Map<BlobId, Set<string>>();

  const check = async (id: BlobId): Promise<Uint8Array | null> => {
    const known = status.get(id);
    if (known && known !== 'ok') return null;
    try {
      const bytes = await store.get(id);
      status.set(id, 'ok');
      return bytes;
    } catch (e) {
      if (e instanceof BlobCorruptError) status.set(id, 'corrupt');
      else if (e instanceof BlobNotFoundError) status.set(id, 'missing');
      else throw e;
      return null;
    }
  };

  const own = (id: BlobId, p: string): void => {
    let s = owners.get(id);
    if (!s) owners.set(id, (s = new Set()));
    s.add(p);
  };

  const visited = new Set<BlobId>();
  const walk = async (id: BlobId, prefix: string): Promise<void> => {
    own(id, prefix === '' ? '.' : prefix);
    // A subtree shared between snapshots (or directories) is walked once; only its first path is named for its files.
    if (visited.has(id)) return;
    visited.add(id);
    const bytes = await check(id);
    if (!bytes) return;
    const node = decodeTree(bytes, id);
    for (const e of node.entries) {
      const p = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.kind === 'dir') await walk(e.id, p);
      else if (e.kind === 'file') for (const c of e.chunks) own(c, p);
    }
  };

  for (const id of ids) await walk(id, '');
  for (const id of owners.keys()) if (!status.has(id)) await check(id);

  const report = (which: 'corrupt' | 'missing'): BadBlob[] =>
    [...status]
      .filter(([, s]) => s === which)
      .map(([blob]) => ({ blob, files: [...owners.get(blob)!].sort() }))
      .sort((a, b) => (a.blob < b.blob ? -1 : 1));

  return { checked: status.size, corrupt: report('corrupt'), missing: report('missing') };
}
