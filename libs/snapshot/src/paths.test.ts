import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import {
  assertNoSymlinkParents,
  isSafeSegment,
  MAX_PATH_BYTES,
  normalizeRelative,
  safeJoin,
} from './paths.ts';

function invalid(fn: () => unknown): CairnError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CairnError);
    expect((e as CairnError).code).toBe('INVALID_INPUT');
    return e as CairnError;
  }
  throw new Error('expected INVALID_INPUT');
}

describe('normalizeRelative', () => {
  it('folds harmless noise', () => {
    expect(normalizeRelative('a/b/c')).toBe('a/b/c');
    expect(normalizeRelative('./a//b/./c/')).toBe('a/b/c');
    expect(normalizeRelative('héllo/日本/😀')).toBe('héllo/日本/😀');
    expect(normalizeRelative('..a/b..')).toBe('..a/b..');
  });

  it.each([
    ['/etc/passwd', 'absolute'],
    ['a/../../b', "'..'"],
    ['..', "'..'"],
    ['a/..', "'..'"],
    ['a\0b', 'control'],
    ['a\nb', 'control'],
    ['a\u009bb', 'control'],
    ['a\\..\\b', 'backslash'],
    ['', 'root'],
    ['./', 'root'],
    ['a/\ud800', 'Unicode'],
  ])('rejects %j (%s) naming the path', (p, why) => {
    const e = invalid(() => normalizeRelative(p));
    expect(e.message).toContain(why);
    expect(e.message).toContain(JSON.stringify(p));
  });

  it('enforces byte lengths, not character counts', () => {
    expect(normalizeRelative('x'.repeat(255))).toHaveLength(255);
    invalid(() => normalizeRelative('x'.repeat(256)));
    // 'é' is 2 UTF-8 bytes: 128 of them is 256 bytes though only 128 characters.
    invalid(() => normalizeRelative('é'.repeat(128)));
    const long = Array.from({ length: 20 }, () => 'y'.repeat(200)).join('/');
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_PATH_BYTES);
    expect(normalizeRelative(long)).toBe(long);
    invalid(() => normalizeRelative(`${long}/${'z'.repeat(200)}`));
  });

  it('is idempotent and yields only safe segments (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        let n: string;
        try {
          n = normalizeRelative(s);
        } catch (e) {
          expect((e as CairnError).code).toBe('INVALID_INPUT');
          return;
        }
        expect(normalizeRelative(n)).toBe(n);
        for (const seg of n.split('/')) expect(isSafeSegment(seg)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('safeJoin', () => {
  const root = '/srv/data/root';

  it('joins inside root', () => {
    expect(safeJoin(root, 'a/b')).toBe('/srv/data/root/a/b');
    expect(safeJoin('/srv/data/root/', './a')).toBe('/srv/data/root/a');
  });

  it('refuses escapes and the root itself', () => {
    invalid(() => safeJoin(root, '../root2/x'));
    invalid(() => safeJoin(root, '/etc/passwd'));
    invalid(() => safeJoin(root, '.'));
  });

  // Segments drawn from the troublemakers so that escapes are actually attempted often.
  const hostile = fc
    .array(
      fc.oneof(
        fc.constantFrom('..', '.', '', '/', '\\', '..\\..', '\0', 'a', 'b', '~', '%2e%2e', '\u2024\u2024', 'root2'),
        fc.string({ unit: 'binary', maxLength: 6 }),
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join('/'));

  it('never escapes root for arbitrary strings (property)', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.string({ unit: 'binary' })), (s) => {
        let out: string;
        try {
          out = safeJoin(root, s);
        } catch (e) {
          expect((e as CairnError).code).toBe('INVALID_INPUT');
          return;
        }
        expect(out.startsWith(`${root}/`)).toBe(true);
        expect(path.relative(root, out).split(path.sep)).not.toContain('..');
        expect(out).toBe(`${root}/${normalizeRelative(s)}`);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('assertNoSymlinkParents', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cairn-paths-'));
    await mkdir(path.join(dir, 'real/sub'), { recursive: true });
    await symlink('/tmp', path.join(dir, 'link'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts real and missing parents, refuses a symlinked one', async () => {
    await assertNoSymlinkParents(dir, 'real/sub/file');
    await assertNoSymlinkParents(dir, 'real/missing/deeper/file');
    await expect(assertNoSymlinkParents(dir, 'link/evil')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    // The leaf itself may be a symlink: checkout replaces leaves, it does not write through them.
    await assertNoSymlinkParents(dir, 'link');
  });
});
