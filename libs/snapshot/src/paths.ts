import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from './errors.ts';

/** PATH_MAX and NAME_MAX on Linux, in UTF-8 bytes (the kernel counts bytes, not characters). */
export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;

// C0, DEL and C1 controls: NUL truncates paths in syscalls, the rest can forge terminal
// output (U+009B is a CSI) when a path is printed.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// In `u` mode a well-formed surrogate pair is one code point, so this only matches lone
// halves, which have no UTF-8 encoding and would not round-trip through a manifest.
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `name` is not a safe single path segment, or null when it is. */
export function segmentProblem(name: string): string | null {
  if (name === '') return 'empty segment';
  if (name === '.' || name === '..') return `'${name}' segment`;
  if (name.includes('/')) return "contains '/'";
  // A backslash is legal in a POSIX name but is a separator on Windows: a tree holding
  // 'a\\..\\..\\x' would escape on checkout there, so trees never carry one.
  if (name.includes('\\')) return 'contains a backslash';
  if (CONTROL.test(name)) return 'contains a control character';
  if (LONE_SURROGATE.test(name)) return 'is not valid Unicode';
  if (Buffer.byteLength(name, 'utf8') > MAX_SEGMENT_BYTES) return `segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  return null;
}

export function isSafeSegment(name: string): boolean {
  return segmentProblem(name) === null;
}

export function assertSafeSegment(name: string): void {
  const problem = segmentProblem(name);
  if (problem) throw new UnsafePathError(name, problem);
}

/**
 * Turns a user- or walker-supplied relative path into the one form trees use:
 * '/'-separated segments, none empty, '.' or '..'. Harmless noise ('a//b', './a', 'a/')
 * is folded away; anything that could point elsewhere ('..', absolute, backslashes,
 * control characters, over-long) throws rather than being "fixed", because silently
 * rewriting a hostile path hides the attack.
 */
export function normalizeRelative(p: string): string {
  if (typeof p !== 'string') throw new UnsafePathError(String(p), 'not a string');
  if (p.startsWith('/')) throw new UnsafePathError(p, 'absolute path');
  // Checked on the raw string so the message names the real problem rather than a segment.
  if (CONTROL.test(p)) throw new UnsafePathError(p, 'contains a control character');
  if (Buffer.byteLength(p, 'utf8') > MAX_PATH_BYTES) throw new UnsafePathError(p, `longer than ${MAX_PATH_BYTES} bytes`);
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') throw new UnsafePathError(p, "contains a '..' segment");
    const problem = segmentProblem(seg);
    if (problem) throw new UnsafePathError(p, problem);
    out.push(seg);
  }
  if (out.length === 0) throw new UnsafePathError(p, 'names the root itself, not an entry under it');
  return out.join('/');
}

/**
 * Joins a relative tree path onto a filesystem root and proves, lexically, that the
 * result stays under root. Lexical only: it does not follow symlinks, so a checkout
 * must still refuse to write through a symlinked parent (see assertNoSymlinkParents).
 */
export function safeJoin(root: string, rel: string): string {
  const norm = normalizeRelative(rel);
  const base = path.resolve(root);
  const joined = path.resolve(base, ...norm.split('/'));
  const back = path.relative(base, joined);
  if (back === '' || back === '..' || back.startsWith(`..${path.sep}`) || path.isAbsolute(back)) {
    throw new UnsafePathError(rel, `resolves outside ${base}`);
  }
  return joined;
}

/**
 * Throws when any existing parent directory of root/rel is a symlink, so that writing
 * the file cannot land outside root through a link planted by an earlier entry or by
 * another process. Missing parents are fine (the caller creates them as real dirs).
 */
export async function assertNoSymlinkParents(root: string, rel: string): Promise<void> {
  const norm = normalizeRelative(rel);
  const segs = norm.split('/');
  let cur = path.resolve(root);
  for (const seg of segs.slice(0, -1)) {
    cur = path.join(cur, seg);
    let st;
    try {
      st = await lstat(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (st.isSymbolicLink()) throw new UnsafePathError(rel, `parent ${JSON.stringify(path.relative(root, cur))} is a symlink`);
    if (!st.isDirectory()) throw new UnsafePathError(rel, `parent ${JSON.stringify(path.relative(root, cur))} is not a directory`);
  }
}
