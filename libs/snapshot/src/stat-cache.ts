import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { blake3 } from '@napi-rs/blake-hash';
import { ValidationError } from '@cairn/schema';
import type { BlobId } from './types.ts';
import { msFromNs, type QuickStat } from './walk.ts';

/**
 * The stat fields a cached hash is trusted on. ctime is included when known because
 * mtime can be set back by any user (`touch -d`, `cp -p`) while ctime cannot. dev is
 * compared only when both sides know it: overlay and network filesystems renumber
 * devices across mounts, which would otherwise invalidate every entry.
 */
export interface StatKey {
  size: number;
  mtimeNs: bigint;
  ino: bigint | number;
  ctimeNs?: bigint;
  dev?: bigint | number;
}

/**
 * A file modified within this window of when we hashed it may have changed again without
 * its mtime moving (coarse timestamps: 1 s on some filesystems, 2 s on FAT), so such
 * entries are "racy" and never trusted, like git's racy-index rule.
 */
export const RACY_WINDOW_NS = 2_000_000_000n;

const MAGIC = Buffer.from('CAIRNSC\x01', 'latin1');
const VERSION = 2;
const HASH_BYTES = 32;
const HEX64 = /^[0-9a-f]{64}$/;

interface Entry {
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
  /** When the content was hashed, on the local clock; also capped by the cache file's mtime at load. */
  refNs: bigint;
  /** Hex ids, or a window into the loaded file: decoding 1M chunk lists up front would dominate load time. */
  chunks: BlobId[] | { buf: Buffer; off: number; n: number };
}

const toBig = (v: bigint | number | undefined): bigint => (v === undefined ? 0n : typeof v === 'bigint' ? v : BigInt(v));

/** A u64 as the nearest double, as Node's plain stat and Number(bigint) both round it. */
function u64(b: Buffer, o: number): number {
  return b.readUInt32LE(o + 4) * 4294967296 + b.readUInt32LE(o);
}

/** Exact seconds and nanoseconds of a u64 nanosecond count (into `parts`, no allocation), by long division in 16-bit limbs (every step exact in a double). */
const parts = { sec: 0, nsec: 0 };
function nsParts(b: Buffer, o: number): typeof parts {
  let r = 0;
  let sec = 0;
  for (let k = 3; k >= 0; k--) {
    const cur = r * 65536 + b.readUInt16LE(o + 2 * k);
    const d = Math.floor(cur / 1_000_000_000);
    r = cur - d * 1_000_000_000;
    sec = sec * 65536 + d;
  }
  parts.sec = sec;
  parts.nsec = r;
  return parts;
}

function matches(e: Entry, st: StatKey): boolean {
  if (e.size !== st.size || e.mtimeNs !== st.mtimeNs || e.ino !== toBig(st.ino)) return false;
  const ctime = st.ctimeNs ?? 0n;
  if (ctime !== 0n && e.ctimeNs !== 0n && ctime !== e.ctimeNs) return false;
  const dev = toBig(st.dev);
  if (dev !== 0n && e.dev !== 0n && dev !== e.dev) return false;
  return e.mtimeNs < e.refNs - RACY_WINDOW_NS;
}

function chunkIds(e: Entry): BlobId[] {
  if (Array.isArray(e.chunks)) return e.chunks;
  const { buf, off, n } = e.chunks;
  const ids: BlobId[] = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = buf.toString('hex', off + i * 32, off + (i + 1) * 32);
  e.chunks = ids;
  return ids;
}

/**
 * What the last snapshot built from these entries, like git's cache-tree: its root, a
 * signature of the walk it saw, each directory's node, and how the store looked after it.
 * Only meaningful together with the entries it was saved with (one atomic file).
 */
export interface TreeState {
  /** The store the nodes were written to (its location); nothing is reused for another. */
  store: string;
  /** Signature of the walk listing (paths, kinds, modes, symlink targets, empty dirs). */
  sig: string;
  root: { id: BlobId; files: number; bytes: number };
  /** Directory path ('' is the root) → [signature, node id, files, bytes]. */
  dirs: Record<string, [string, BlobId, number, number]>;
  /**
   * LocalBlobStore only: mtimeNs (decimal) of each fan-out folder '00'…'ff' once every
   * blob of `root` was known present; '-' where the folder did not exist, '' where it
   * could not be trusted (changed too recently to rule out a same-tick deletion).
   * Deleting a blob changes its folder's mtime, so an equal stamp proves nothing was
   * removed from it since (a removal after the stamp moves the mtime and is seen next
   * time). The one window left is gc's own: a gc that checked for leases just before this
   * snapshot took its lease may delete between this snapshot's existence check and its
   * stamp, the same window every reused chunk already has (see gc's "Known limit").
   */
  stamps?: string[];
}

export interface StatCacheOptions {
  /** Where a distrusted cache file is reported; defaults to process.emitWarning. */
  warn?: (message: string) => void;
  /** Wall clock in ns, injectable so racy-entry tests need not sleep. */
  now?: () => bigint;
}

/**
 * Remembers, per path under one dataset root, which chunks a file with a given stat
 * produced, so an unchanged file is never read again. Stored as one binary file per
 * dataset root (the name hashes the absolute root), checksummed, replaced atomically.
 * Anything wrong with the file means starting empty: a cache may only ever cost time.
 */
export class StatCache {
  private dirty = false;
  private treeJson: string;

  private constructor(
    readonly file: string,
    readonly datasetRoot: string,
    private readonly entries: Map<string, Slot>,
    private readonly loaded: Loaded | null,
    private readonly now: () => bigint,
    treeJson: string,
  ) {
    this.treeJson = treeJson;
  }

  /** The tree the last save recorded, or null. */
  get tree(): TreeState | null {
    if (this.treeJson === '') return null;
    try {
      return JSON.parse(this.treeJson) as TreeState;
    } catch {
      return null;
    }
  }

  /** Records the tree built from the entries as they will be saved; a no-op when equal to the loaded one. */
  setTree(t: TreeState | null): void {
    const json = t ? JSON.stringify(t) : '';
    if (json === this.treeJson) return;
    this.treeJson = json;
    this.dirty = true;
  }

  /**
   * `hit` for a plain lstat: the same rules, with times and ino compared as the doubles
   * Node reports (a distinct file would need the same size and ino and an mtime and
   * ctime within a fraction of a microsecond of the recorded ones). Reads the loaded file
   * in place, without BigInts: this runs once per file on every snapshot. Returns the
   * recorded mtime in whole ms (what a tree entry holds) on a hit, -1 otherwise.
   */
  hitQuick(rel: string, q: QuickStat): number {
    const slot = this.entries.get(rel);
    if (slot === undefined) return -1;
    if (typeof slot !== 'number') {
      const ok = matches(slot, { size: q.size, mtimeNs: slot.mtimeNs, ino: slot.ino }) && msFromNs(slot.mtimeNs) === q.mtimeMs && Number(slot.ino) === q.ino;
      if (!ok || (q.ctimeMs !== 0 && slot.ctimeNs !== 0n && msFromNs(slot.ctimeNs) !== q.ctimeMs) || (q.dev !== 0 && slot.dev !== 0n && Number(slot.dev) !== q.dev)) return -1;
      return Number(slot.mtimeNs / 1_000_000n);
    }
    const l = this.loaded!;
    const b = l.buf;
    const o = l.records + slot * RECORD;
    if (b.readDoubleLE(o) !== q.size || u64(b, o + 24) !== q.ino) return -1;
    let m = nsParts(b, o + 8);
    if (m.sec * 1000 + m.nsec / 1_000_000 !== q.mtimeMs) return -1;
    if (q.ctimeMs !== 0 && u64(b, o + 16) !== 0) {
      const c = nsParts(b, o + 16);
      if (c.sec * 1000 + c.nsec / 1_000_000 !== q.ctimeMs) return -1;
    }
    const dev = u64(b, o + 32);
    if (q.dev !== 0 && dev !== 0 && dev !== q.dev) return -1;
    // Racy check: doubles are within 256 ns of the exact values, so only a near tie needs BigInts.
    const mt = u64(b, o + 8);
    let ref = u64(b, o + REF_AT);
    if (l.cap !== null && Number(l.cap) < ref) ref = Number(l.cap);
    const margin = mt - (ref - Number(RACY_WINDOW_NS));
    if (margin > -2048 && (margin >= 2048 || readEntry(l, slot).mtimeNs >= readEntry(l, slot).refNs - RACY_WINDOW_NS)) return -1;
    m = nsParts(b, o + 8);
    return m.sec * 1000 + Math.floor(m.nsec / 1_000_000);
  }

  private entry(rel: string): Entry | undefined {
    const slot = this.entries.get(rel);
    if (slot === undefined || typeof slot !== 'number') return slot;
    // Not written back into the map: each path is looked up about once per run, and
    // leaving the slot as an index keeps memory flat and save() a raw copy.
    return readEntry(this.loaded!, slot);
  }

  static fileFor(dir: string, datasetRoot: string): string {
    const abs = path.resolve(datasetRoot);
    return path.join(dir, `${blake3(Buffer.from(abs, 'utf8')).toString('hex').slice(0, 32)}.statcache`);
  }

  static async open(dir: string, datasetRoot: string, options: StatCacheOptions = {}): Promise<StatCache> {
    const root = path.resolve(datasetRoot);
    const file = StatCache.fileFor(dir, root);
    const warn = options.warn ?? ((m: string) => process.emitWarning(m, 'CairnStatCacheWarning'));
    const now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    let loaded: Loaded | null = null;
    let entries = new Map<string, Slot>();
    let treeJson = '';
    let buf: Buffer | undefined;
    let fileMtimeNs = 0n;
    try {
      buf = await readFile(file);
      fileMtimeNs = (await stat(file, { bigint: true })).mtimeNs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`stat cache ${file} unreadable, rehashing everything: ${(e as Error).message}`);
    }
    if (buf) {
      try {
        ({ entries, loaded, treeJson } = decode(buf, fileMtimeNs > 0n ? fileMtimeNs : null, root));
      } catch (e) {
        warn(`stat cache ${file} ignored (${(e as Error).message}); files will be rehashed`);
        entries = new Map();
        loaded = null;
      }
    }
    return new StatCache(file, root, entries, loaded, now, treeJson);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The chunks recorded for `rel` if its stat still matches and the entry is not racy; otherwise null. */
  lookup(rel: string, st: StatKey): BlobId[] | null {
    const e = this.entry(rel);
    if (!e || !matches(e, st)) return null;
    return chunkIds(e);
  }

  /** The chunks recorded for `rel`, unchecked: for a path `hitQuick` just accepted. */
  chunksOf(rel: string): BlobId[] | null {
    const e = this.entry(rel);
    return e ? chunkIds(e) : null;
  }

  /** Call with the stat taken before reading the file, so a write during hashing shows up as a mismatch next time. */
  record(rel: string, st: StatKey, chunks: BlobId[]): void {
    // NUL separates paths on disk; no real path can contain one.
    if (rel.includes('\0')) throw new ValidationError(`stat cache: path ${JSON.stringify(rel)} contains NUL`);
    for (const c of chunks) if (!HEX64.test(c)) throw new ValidationError(`stat cache: invalid chunk id ${JSON.stringify(c)} for ${JSON.stringify(rel)}`);
    if ((st.size === 0) !== (chunks.length === 0)) throw new ValidationError(`stat cache: ${JSON.stringify(rel)} has size ${st.size} but ${chunks.length} chunks`);
    this.entries.set(rel, {
      size: st.size,
      mtimeNs: st.mtimeNs,
      ctimeNs: st.ctimeNs ?? 0n,
      ino: toBig(st.ino),
      dev: toBig(st.dev),
      refNs: this.now(),
      chunks: [...chunks],
    });
    // The recorded tree described the old entry; only the caller that recorded can say what replaces it.
    this.treeJson = '';
    this.dirty = true;
  }

  /** Drops entries for paths not seen in the latest walk; returns how many went. */
  prune(seenPaths: Iterable<string>): number {
    const seen = seenPaths instanceof Set ? (seenPaths as Set<string>) : new Set(seenPaths);
    let removed = 0;
    for (const k of this.entries.keys()) {
      if (!seen.has(k)) {
        this.entries.delete(k);
        removed++;
      }
    }
    if (removed) this.dirty = true;
    return removed;
  }

  /** Atomic: write a temp file, fsync, rename over, fsync the directory. A crash leaves the old or the new cache, never half of one. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const bytes = encode(this.entries, this.loaded, this.datasetRoot, this.now(), this.treeJson);
    const dir = path.dirname(this.file);
    await mkdir(dir, { recursive: true });
    const tmp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.file);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    this.dirty = false;
  }
}

// Layout (little-endian), in three regions so loading is a few bulk operations:
//   MAGIC | u32 version | u32 count | u64 savedAtNs | u16 rootLen | root
//   | u32 pathBytes | every path, joined by NUL (one decode and one split for all of them)
//   | count × record: f64 size | u64 mtimeNs | u64 ctimeNs | u64 ino | u64 dev | u64 refNs | u32 nChunks | u32 firstChunk
//   | all chunk ids, 32 bytes each, records' lists back to back
//   | u32 treeBytes | TreeState as JSON ('' when none; version 2)
//   | BLAKE3 of everything before it.
const RECORD = 8 * 6 + 4 + 4;
const REF_AT = 40;
const N_AT = 48;
const FIRST_AT = 52;

/**
 * Loaded entries stay as record indexes until looked up: building a million objects with
 * six BigInts each at load is what made 1M entries cost seconds. `cap` is the cache file's
 * mtime (filesystem clock): entries hashed on a local clock ahead of the filesystem's must
 * not slip past the racy check, so it caps every refNs.
 */
interface Loaded {
  buf: Buffer;
  cap: bigint | null;
  records: number;
  chunks: number;
}
type Slot = Entry | number;

function readEntry(l: Loaded, i: number): Entry {
  const { buf, cap } = l;
  const o = l.records + i * RECORD;
  let refNs = buf.readBigUInt64LE(o + REF_AT);
  if (cap !== null && cap < refNs) refNs = cap;
  return {
    size: buf.readDoubleLE(o),
    mtimeNs: buf.readBigUInt64LE(o + 8),
    ctimeNs: buf.readBigUInt64LE(o + 16),
    ino: buf.readBigUInt64LE(o + 24),
    dev: buf.readBigUInt64LE(o + 32),
    refNs,
    chunks: { buf, off: l.chunks + buf.readUInt32LE(o + FIRST_AT) * 32, n: buf.readUInt32LE(o + N_AT) },
  };
}

function encode(entries: Map<string, Slot>, loaded: Loaded | null, root: string, savedAtNs: bigint, treeJson: string): Buffer {
  const treeBytes = Buffer.from(treeJson, 'utf8');
  const rootBytes = Buffer.from(root, 'utf8');
  const keys = [...entries.keys()];
  const pathBlock = keys.join('\0');
  const pathBytes = Buffer.byteLength(pathBlock, 'utf8');
  let nChunks = 0;
  for (const e of entries.values()) {
    nChunks += typeof e === 'number' ? loaded!.buf.readUInt32LE(loaded!.records + e * RECORD + N_AT) : Array.isArray(e.chunks) ? e.chunks.length : e.chunks.n;
  }
  const head = MAGIC.length + 4 + 4 + 8 + 2 + rootBytes.length + 4;
  const recBase = head + pathBytes;
  const chunkBase = recBase + entries.size * RECORD;
  const total = chunkBase + nChunks * 32 + 4 + treeBytes.length + HASH_BYTES;
  const out = Buffer.allocUnsafe(total);
  let o = MAGIC.copy(out, 0);
  o = out.writeUInt32LE(VERSION, o);
  o = out.writeUInt32LE(entries.size, o);
  o = out.writeBigUInt64LE(savedAtNs, o);
  o = out.writeUInt16LE(rootBytes.length, o);
  o += rootBytes.copy(out, o);
  o = out.writeUInt32LE(pathBytes, o);
  out.write(pathBlock, o, 'utf8');
  let r = recBase;
  let c = chunkBase;
  let first = 0;
  for (const e of entries.values()) {
    let n: number;
    if (typeof e === 'number') {
      const { buf, cap } = loaded!;
      const src = loaded!.records + e * RECORD;
      buf.copy(out, r, src, src + FIRST_AT);
      // The cap must survive the rewrite, or the next load would cap by a later mtime.
      if (cap !== null && cap < buf.readBigUInt64LE(src + REF_AT)) out.writeBigUInt64LE(cap, r + REF_AT);
      n = buf.readUInt32LE(src + N_AT);
      const from = loaded!.chunks + buf.readUInt32LE(src + FIRST_AT) * 32;
      buf.copy(out, c, from, from + n * 32);
    } else {
      out.writeDoubleLE(e.size, r);
      out.writeBigUInt64LE(e.mtimeNs, r + 8);
      out.writeBigUInt64LE(e.ctimeNs, r + 16);
      out.writeBigUInt64LE(e.ino, r + 24);
      out.writeBigUInt64LE(e.dev, r + 32);
      out.writeBigUInt64LE(e.refNs, r + REF_AT);
      if (Array.isArray(e.chunks)) {
        n = e.chunks.length;
        for (let k = 0; k < n; k++) out.write(e.chunks[k]!, c + k * 32, 32, 'hex');
      } else {
        n = e.chunks.n;
        e.chunks.buf.copy(out, c, e.chunks.off, e.chunks.off + n * 32);
      }
      out.writeUInt32LE(n, r + N_AT);
    }
    out.writeUInt32LE(first, r + FIRST_AT);
    first += n;
    c += n * 32;
    r += RECORD;
  }
  c = out.writeUInt32LE(treeBytes.length, c);
  c += treeBytes.copy(out, c);
  blake3(out.subarray(0, c)).copy(out, c);
  return out;
}

/** Checks the whole file's structure up front (a bad length must not surface mid-lookup), but decodes only paths. */
function decode(buf: Buffer, cap: bigint | null, root: string): { entries: Map<string, Slot>; loaded: Loaded; treeJson: string } {
  const min = MAGIC.length + 4 + 4 + 8 + 2 + 4 + 4 + HASH_BYTES;
  if (buf.length < min) throw new Error('file too short');
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a stat cache file');
  const end = buf.length - HASH_BYTES;
  if (!blake3(buf.subarray(0, end)).equals(buf.subarray(end))) throw new Error('checksum mismatch');
  let o = MAGIC.length;
  const version = buf.readUInt32LE(o);
  if (version !== VERSION) throw new Error(`unsupported version ${version}`);
  const count = buf.readUInt32LE(o + 4);
  o += 16;
  const rootLen = buf.readUInt16LE(o);
  o += 2;
  if (o + rootLen + 4 > end) throw new Error('truncated header');
  const fileRoot = buf.toString('utf8', o, o + rootLen);
  o += rootLen;
  if (fileRoot !== root) throw new Error(`written for ${JSON.stringify(fileRoot)}, not ${JSON.stringify(root)}`);
  const pathBytes = buf.readUInt32LE(o);
  o += 4;
  const recBase = o + pathBytes;
  const chunkBase = recBase + count * RECORD;
  if (chunkBase > end) throw new Error('truncated records');
  const paths = count === 0 ? [] : buf.toString('utf8', o, recBase).split('\0');
  if (paths.length !== count) throw new Error('path count mismatch');
  let first = 0;
  for (let i = 0, r = recBase; i < count; i++, r += RECORD) {
    const size = buf.readDoubleLE(r);
    const n = buf.readUInt32LE(r + N_AT);
    if (!Number.isSafeInteger(size) || size < 0 || (size === 0) !== (n === 0)) throw new Error(`bad entry for ${JSON.stringify(paths[i])}`);
    if (buf.readUInt32LE(r + FIRST_AT) !== first) throw new Error('chunk lists out of order');
    first += n;
  }
  const treeAt = chunkBase + first * 32;
  if (treeAt + 4 > end) throw new Error('chunk region size mismatch');
  const treeLen = buf.readUInt32LE(treeAt);
  if (treeAt + 4 + treeLen !== end) throw new Error('chunk region size mismatch');
  const treeJson = buf.toString('utf8', treeAt + 4, end);
  const entries = new Map<string, Slot>();
  for (let i = 0; i < count; i++) entries.set(paths[i]!, i);
  if (entries.size !== count) throw new Error('duplicate paths');
  return { entries, loaded: { buf, cap, records: recBase, chunks: chunkBase }, treeJson };
}
