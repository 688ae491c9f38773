import { blake3 } from '@napi-rs/blake-hash';
import { z } from 'zod';
import { ManifestError, UnsafePathError } from './errors.ts';
import { MAX_PATH_BYTES, normalizeRelative, segmentProblem } from './paths.ts';
import type { BlobId, DirEntry, FileEntry, SymlinkEntry, TreeEntry, TreeNode } from './types.ts';

/** Trees are ordered by UTF-8 bytes so that every implementation (Go, Rust, Python) agrees; JS string order is UTF-16 and differs above U+FFFF. */
export function compareNames(a: string, b: string): number {
  // Without surrogates, UTF-16 code unit order is UTF-8 byte order: skip the two buffers.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
const SURROGATE = /[\uD800-\uDFFF]/;
const HEX64 = /^[0-9a-f]{64}$/;
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The same rules as the zod schema for one entry, hand-written: buildTree checks every
 * leaf of a snapshot, and zod's per-entry cost was most of an unchanged re-snapshot.
 * decodeTree (untrusted bytes) still goes through zod; manifest.test.ts checks they agree.
 */
function entryProblem(e: TreeEntry): string | null {
  if (typeof e.name !== 'string') return 'name: must be a string';
  const bad = segmentProblem(e.name);
  if (bad) return `name: name ${JSON.stringify(e.name)}: ${bad}`;
  switch (e.kind) {
    case 'file': {
      if (typeof e.mode !== 'number' || !Number.isSafeInteger(e.mode) || e.mode < 0 || e.mode > 0o7777) return 'mode: must be an integer in 0..0o7777';
      if (!isCount(e.size)) return 'size: must be a non-negative integer';
      if (typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs)) return 'mtimeMs: must be finite';
      if (!Array.isArray(e.chunks)) return 'chunks: must be an array';
      for (let i = 0; i < e.chunks.length; i++) {
        const c: unknown = e.chunks[i];
        if (typeof c !== 'string' || !HEX64.test(c)) return `chunks.${i}: must be 64 lowercase hex characters`;
      }
      if ((e.size === 0) !== (e.chunks.length === 0)) return 'chunks: an empty file has no chunks and a non-empty file has at least one';
      return null;
    }
    case 'symlink':
      if (typeof e.target !== 'string' || e.target.length === 0) return 'target: must be a non-empty string';
      if (e.target.includes('\0')) return 'target: contains NUL';
      if (Buffer.byteLength(e.target, 'utf8') > MAX_PATH_BYTES) return `target: longer than ${MAX_PATH_BYTES} bytes`;
      return null;
    case 'dir':
      if (typeof e.id !== 'string' || !HEX64.test(e.id)) return 'id: must be 64 lowercase hex characters';
      if (!isCount(e.files)) return 'files: must be a non-negative integer';
      if (!isCount(e.bytes)) return 'bytes: must be a non-negative integer';
      return null;
    default:
      return `kind: invalid ${JSON.stringify((e as { kind: unknown }).kind)}`;
  }
}

const blobId = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const count = z.number().int().nonnegative();

const name = z.string().superRefine((s, ctx) => {
  const problem = segmentProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `name ${JSON.stringify(s)}: ${problem}` });
});

const fileEntry = z
  .strictObject({
    kind: z.literal('file'),
    name,
    // Permission bits only: the type bits are implied by `kind`, and setuid/sticky are kept
    // so a round trip is faithful; checkout decides what it applies.
    mode: z.number().int().min(0).max(0o7777),
    size: count,
    mtimeMs: z.number().refine(Number.isFinite, 'must be finite'),
    chunks: z.array(blobId),
  })
  .refine((f) => (f.size === 0) === (f.chunks.length === 0), {
    message: 'an empty file has no chunks and a non-empty file has at least one',
    path: ['chunks'],
  });

const symlinkEntry = z.strictObject({
  kind: z.literal('symlink'),
  name,
  // Recorded as is; only NUL (no syscall can carry it) and absurd lengths are refused here.
  // Whether it may be created on checkout is symlinkEscapes' call.
  target: z
    .string()
    .min(1)
    .refine((t) => !t.includes('\0'), 'contains NUL')
    .refine((t) => Buffer.byteLength(t, 'utf8') <= MAX_PATH_BYTES, `longer than ${MAX_PATH_BYTES} bytes`),
});

const dirEntry = z.strictObject({
  kind: z.literal('dir'),
  name,
  id: blobId,
  files: count,
  bytes: count,
});

const treeEntry = z.discriminatedUnion('kind', [fileEntry, symlinkEntry, dirEntry]);

const treeNode = z
  .strictObject({ version: z.literal(1), entries: z.array(treeEntry) })
  .superRefine((node, ctx) => {
    for (let i = 1; i < node.entries.length; i++) {
      const prev = node.entries[i - 1]!.name;
      const cur = node.entries[i]!.name;
      const c = compareNames(prev, cur);
      if (c >= 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['entries', i, 'name'],
          message: c === 0 ? `duplicate name ${JSON.stringify(cur)}` : `${JSON.stringify(cur)} is not sorted after ${JSON.stringify(prev)}`,
        });
        return;
      }
    }
  });

function describeIssues(err: z.ZodError): string {
  const first = err.issues[0];
  if (!first) return 'invalid';
  const where = first.path.length ? first.path.join('.') : 'node';
  const more = err.issues.length > 1 ? ` (and ${err.issues.length - 1} more)` : '';
  return `${where}: ${first.message}${more}`;
}

/** Rebuilds each entry with a fixed key order, dropping anything else the caller's object carries. */
function canonicalEntry(e: TreeEntry): TreeEntry {
  switch (e.kind) {
    case 'file':
      return { kind: 'file', name: e.name, mode: e.mode, size: e.size, mtimeMs: e.mtimeMs, chunks: Array.isArray(e.chunks) ? [...e.chunks] : e.chunks };
    case 'symlink':
      return { kind: 'symlink', name: e.name, target: e.target };
    case 'dir':
      return { kind: 'dir', name: e.name, id: e.id, files: e.files, bytes: e.bytes };
  }
}

function validate(node: unknown, what: string): TreeNode {
  const parsed = treeNode.safeParse(node);
  if (!parsed.success) throw new ManifestError(`invalid tree node ${what}: ${describeIssues(parsed.error)}`, { cause: parsed.error });
  return parsed.data as TreeNode;
}

/**
 * Canonical bytes of a node: compact JSON, fixed key order per kind, entries in byte
 * order. Validates first, so a tree that decodeTree would refuse is never stored.
 * The input must already be sorted: sorting silently would hide a caller bug.
 */
export function encodeTree(node: TreeNode): Uint8Array {
  return serialize(validate(node, 'to encode'));
}

function serialize(checked: TreeNode): Buffer {
  const canonical = { version: 1, entries: checked.entries.map(canonicalEntry) };
  return Buffer.from(JSON.stringify(canonical), 'utf8');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses and validates a node from untrusted bytes. Also demands the bytes be exactly
 * the canonical encoding, so one tree has exactly one id (no whitespace, key-order or
 * duplicate-key variants that would hash differently or smuggle a second value).
 */
export function decodeTree(bytes: Uint8Array, id?: BlobId): TreeNode {
  const what = id ? `${id}` : '(unnamed)';
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(bytes));
  } catch (e) {
    throw new ManifestError(`tree node ${what} is not UTF-8 JSON`, { cause: e });
  }
  const node = validate(raw, what);
  const again = serialize(node);
  if (Buffer.compare(again, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) !== 0) {
    throw new ManifestError(`tree node ${what} is not in canonical form`);
  }
  return node;
}

/**
 * Whether creating a symlink at `dirRel/<name>` with this target could let a path
 * through it resolve outside the snapshot root. Conservative on purpose: only targets of
 * the form `../../down/wards` are accepted (leading '..' that stay within the tree, then
 * plain names). A '..' after a name is refused because that name may itself be a link,
 * making lexical resolution wrong (l -> '.', m -> 'l/../..' looks inside but is not).
 * With every link held to this rule, resolution stays inside by induction.
 */
export function symlinkEscapes(dirRel: string, target: string): boolean {
  if (target === '' || target.includes('\0') || target.startsWith('/')) return true;
  const depth = dirRel === '' || dirRel === '.' ? 0 : normalizeRelative(dirRel).split('/').length;
  let ups = 0;
  let seenName = false;
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (seenName) return true;
      ups++;
      if (ups > depth) return true;
    } else {
      seenName = true;
    }
  }
  return false;
}

export type LeafEntry = FileEntry | SymlinkEntry;
/**
 * `unchanged`: the caller vouches that this leaf's size, mtimeMs and chunks are what the
 * previous build recorded at this path (a stat-cache hit), so with an equal directory
 * signature the directory's node is the previous one and need not be encoded again.
 */
export type BuildInput = { path: string; entry: LeafEntry; unchanged?: boolean };

/** A stored directory node and its subtree totals. */
export interface NodeInfo {
  id: BlobId;
  files: number;
  bytes: number;
}

export interface BuildOptions {
  /** Directories that must exist even when empty (listing non-empty ones is harmless). */
  dirs?: string[];
  /**
   * Incremental builds (like git's cache-tree): asked for each directory whose leaves are
   * all `unchanged`, with a signature of everything else its node holds (names, kinds,
   * modes, symlink targets, child directory ids). Returning the node recorded last time
   * with that signature skips encoding and storing it; the caller must know that node is
   * still stored.
   */
  reuse?: (dir: string, sig: string) => NodeInfo | null;
  /** Called for every directory ('' is the root), built or reused, children first. */
  onNode?: (dir: string, sig: string, node: NodeInfo) => void;
}

interface DirBuild {
  dirs: Map<string, DirBuild>;
  leaves: Map<string, LeafEntry>;
  allUnchanged: boolean;
}

const newDir = (): DirBuild => ({ dirs: new Map(), leaves: new Map(), allUnchanged: true });

function descend(root: DirBuild, segs: string[], rel: string): DirBuild {
  let cur = root;
  for (const seg of segs) {
    if (cur.leaves.has(seg)) throw new UnsafePathError(rel, `${JSON.stringify(seg)} is both a file and a directory`);
    let next = cur.dirs.get(seg);
    if (!next) {
      next = newDir();
      cur.dirs.set(seg, next);
    }
    cur = next;
  }
  return cur;
}

/**
 * Builds directory nodes bottom-up from a flat list and stores each through `put`.
 * Every input is normalised and validated before the first `put`, so a bad entry leaves
 * nothing behind. `files` counts files and symlinks; `bytes` sums file sizes. `dirs`
 * lists directories that must exist even when empty (listing non-empty ones is harmless).
 * The entry's own `name` is replaced by the last path segment.
 */
export async function buildTree(
  files: BuildInput[],
  put: (bytes: Uint8Array) => Promise<BlobId>,
  options: BuildOptions = {},
): Promise<{ rootId: BlobId; files: number; bytes: number; built: number }> {
  const root = newDir();
  for (const d of options.dirs ?? []) {
    const rel = normalizeRelative(d);
    descend(root, rel.split('/'), rel);
  }
  for (const { path: p, entry, unchanged } of files) {
    const rel = normalizeRelative(p);
    const slash = rel.lastIndexOf('/');
    const leafName = slash < 0 ? rel : rel.slice(slash + 1);
    const parent = slash < 0 ? root : descend(root, rel.slice(0, slash).split('/'), rel);
    if (parent.dirs.has(leafName)) throw new UnsafePathError(rel, 'is both a file and a directory');
    if (parent.leaves.has(leafName)) throw new UnsafePathError(rel, 'listed twice');
    const named = canonicalEntry({ ...entry, name: leafName }) as LeafEntry;
    const problem = entryProblem(named);
    if (problem) throw new ManifestError(`invalid entry for ${JSON.stringify(rel)}: ${problem}`);
    parent.leaves.set(leafName, named);
    if (!unchanged) parent.allUnchanged = false;
  }

  const { reuse, onNode } = options;
  let built = 0;
  const store = async (dir: DirBuild, rel: string): Promise<NodeInfo> => {
    const entries: TreeEntry[] = [];
    let nFiles = 0;
    let nBytes = 0;
    // Sequential on purpose: a wide tree would otherwise open thousands of temp files at once.
    for (const [n, child] of dir.dirs) {
      const sub = await store(child, rel ? `${rel}/${n}` : n);
      entries.push({ kind: 'dir', name: n, id: sub.id, files: sub.files, bytes: sub.bytes });
      nFiles += sub.files;
      nBytes += sub.bytes;
    }
    for (const leaf of dir.leaves.values()) {
      entries.push(leaf);
      nFiles += 1;
      if (leaf.kind === 'file') nBytes += leaf.size;
    }
    entries.sort((a, b) => compareNames(a.name, b.name));
    let sig = '';
    if (reuse || onNode) sig = signature(entries);
    let info = reuse && dir.allUnchanged ? reuse(rel, sig) : null;
    // Totals follow from the signature and unchanged leaves; a mismatch means the record is not ours to trust.
    if (info && (info.files !== nFiles || info.bytes !== nBytes)) info = null;
    if (!info) {
      // Entries are canonical, checked and sorted by construction: no need for encodeTree's zod pass.
      info = { id: await put(serialize({ version: 1, entries })), files: nFiles, bytes: nBytes };
      built++;
    }
    onNode?.(rel, sig, info);
    return info;
  };

  const top = await store(root, '');
  return { rootId: top.id, files: top.files, bytes: top.bytes, built };
}

/** What a directory node holds besides its leaves' sizes, mtimes and chunks. */
function signature(entries: TreeEntry[]): string {
  const parts: string[] = [];
  for (const e of entries) {
    if (e.kind === 'file') parts.push(`f\0${e.name}\0${e.mode}`);
    else if (e.kind === 'symlink') parts.push(`l\0${e.name}\0${JSON.stringify(e.target)}`);
    else parts.push(`d\0${e.name}\0${e.id}`);
  }
  return blake3(Buffer.from(parts.join('\n'), 'utf8')).toString('hex', 0, 16);
}

export type ReadEntry = { path: string; entry: FileEntry | SymlinkEntry | DirEntry };
type Getter = (id: BlobId) => Promise<Uint8Array>;

function childPath(prefix: string, n: string): string {
  const p = prefix ? `${prefix}/${n}` : n;
  // Bounds recursion depth too: a hostile store cannot make us descend forever.
  if (Buffer.byteLength(p, 'utf8') > MAX_PATH_BYTES) throw new ManifestError(`tree path ${JSON.stringify(p.slice(0, 80))}… exceeds ${MAX_PATH_BYTES} bytes`);
  return p;
}

async function loadNode(id: BlobId, get: Getter): Promise<TreeNode> {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new ManifestError(`invalid tree id ${JSON.stringify(id)}`);
  return decodeTree(await get(id), id);
}

async function* walkNode(
  id: BlobId,
  prefix: string,
  get: Getter,
  totals: { files: number; bytes: number },
): AsyncGenerator<ReadEntry> {
  const node = await loadNode(id, get);
  for (const e of node.entries) {
    const p = childPath(prefix, e.name);
    if (e.kind === 'dir') {
      const sub = { files: 0, bytes: 0 };
      let any = false;
      for await (const item of walkNode(e.id, p, get, sub)) {
        any = true;
        yield item;
      }
      // Totals are what diff reports without descending, so a lying node is damage, not a detail.
      if (sub.files !== e.files || sub.bytes !== e.bytes) {
        throw new ManifestError(`tree node for ${JSON.stringify(p)} claims ${e.files} files/${e.bytes} bytes, holds ${sub.files}/${sub.bytes}`);
      }
      if (!any) yield { path: p, entry: e };
      totals.files += sub.files;
      totals.bytes += sub.bytes;
    } else {
      totals.files += 1;
      if (e.kind === 'file') totals.bytes += e.size;
      yield { path: p, entry: e };
    }
  }
}

/**
 * Every file and symlink (and each empty directory, as its DirEntry) under `rootId`,
 * depth-first with siblings in byte order. Each node is validated as it is read, so a
 * caller can stream a checkout and still never act on an entry from a bad node.
 */
export function readTree(rootId: BlobId, get: Getter, prefix = ''): AsyncGenerator<ReadEntry> {
  return walkNode(rootId, prefix, get, { files: 0, bytes: 0 });
}

export type DiffItem = { path: string; kind: TreeEntry['kind']; size: number; files?: number };
export type ModifiedItem = { path: string; oldKind: LeafEntry['kind']; newKind: LeafEntry['kind']; oldSize: number; newSize: number };
export type TreeDiff = { added: DiffItem[]; removed: DiffItem[]; modified: ModifiedItem[] };

const leafSize = (e: LeafEntry): number => (e.kind === 'file' ? e.size : Buffer.byteLength(e.target, 'utf8'));

function sameLeaf(a: LeafEntry, b: LeafEntry): boolean {
  if (a.kind === 'file' && b.kind === 'file') {
    // mtime alone is not a change: the content and what checkout applies are identical.
    return a.size === b.size && a.mode === b.mode && a.chunks.length === b.chunks.length && a.chunks.every((c, i) => c === b.chunks[i]);
  }
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  return false;
}

/**
 * What changed from tree `a` to tree `b`. Subtrees with equal ids are skipped unread,
 * which is the point of hashing directories. With `collapseDirs`, a directory present on
 * one side only is reported once with its totals instead of being read file by file.
 * Symlink sizes are their target's byte length, as lstat reports.
 */
export async function diffTrees(a: BlobId, b: BlobId, get: Getter, options: { collapseDirs?: boolean } = {}): Promise<TreeDiff> {
  const out: TreeDiff = { added: [], removed: [], modified: [] };
  if (a === b) return out;

  const whole = async (p: string, e: TreeEntry, into: DiffItem[]): Promise<void> => {
    if (e.kind !== 'dir') {
      into.push({ path: p, kind: e.kind, size: leafSize(e) });
    } else if (options.collapseDirs) {
      into.push({ path: p, kind: 'dir', size: e.bytes, files: e.files });
    } else {
      for await (const item of readTree(e.id, get, p)) {
        const ie = item.entry;
        into.push({ path: item.path, kind: ie.kind, size: ie.kind === 'dir' ? 0 : leafSize(ie) });
      }
    }
  };

  const visit = async (ida: BlobId, idb: BlobId, prefix: string): Promise<void> => {
    const [na, nb] = await Promise.all([loadNode(ida, get), loadNode(idb, get)]);
    let i = 0;
    let j = 0;
    while (i < na.entries.length || j < nb.entries.length) {
      const ea = na.entries[i];
      const eb = nb.entries[j];
      const c = ea && eb ? compareNames(ea.name, eb.name) : ea ? -1 : 1;
      if (c < 0) {
        await whole(childPath(prefix, ea!.name), ea!, out.removed);
        i++;
      } else if (c > 0) {
        await whole(childPath(prefix, eb!.name), eb!, out.added);
        j++;
      } else {
        const p = childPath(prefix, ea!.name);
        if (ea!.kind === 'dir' && eb!.kind === 'dir') {
          if (ea!.id !== eb!.id) await visit(ea!.id, eb!.id, p);
        } else if (ea!.kind === 'dir' || eb!.kind === 'dir') {
          await whole(p, ea!, out.removed);
          await whole(p, eb!, out.added);
        } else if (!sameLeaf(ea!, eb as LeafEntry)) {
          const la = ea as LeafEntry;
          const lb = eb as LeafEntry;
          out.modified.push({ path: p, oldKind: la.kind, newKind: lb.kind, oldSize: leafSize(la), newSize: leafSize(lb) });
        }
        i++;
        j++;
      }
    }
  };

  await visit(a, b, '');
  return out;
}
