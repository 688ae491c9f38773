import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.ts';
import { BlobNotFoundError } from './errors.ts';
import { readTree } from './manifest.ts';
import { diffProfiles, extensionOf, profileSnapshot, type ProfileOptions } from './profile.ts';
import { snapshotDir } from './snapshot.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-profile-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(base, `${what}${n++}`);

function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
}

async function profileOf(files: Record<string, string | Buffer>, options: Omit<ProfileOptions, 'store'> = {}, setup?: (dir: string) => void) {
  const store = new LocalBlobStore(fresh('store'));
  const dir = fresh('src');
  mkdirSync(dir, { recursive: true });
  writeTree(dir, files);
  setup?.(dir);
  const snap = await snapshotDir(dir, { store });
  return { profile: await profileSnapshot(snap.id, { store, ...options }), store, id: snap.id };
}

describe('extensionOf', () => {
  it('lower-cases, keeps the dot, and gives dotfiles none', () => {
    expect(extensionOf('a/b/Train.CSV')).toBe('.csv');
    expect(extensionOf('x.tar.gz')).toBe('.gz');
    expect(extensionOf('.env')).toBe('');
    expect(extensionOf('dir.d/README')).toBe('');
  });
});

const TRAIN_CSV = [
  'id,age,score,label,flag,comment',
  '1,34,0.5,cat,true,"plain"',
  '2,,1.5,dog,FALSE,"has, comma"',
  '3,29,2,cat,true,"quoted ""word"""',
  '4,41,,bird,,"multi',
  'line"',
  '5,x,3e2,cat,false,',
].join('\r\n');

const EVENTS_JSONL = [
  '{"id":1,"kind":"click","value":1.5,"ok":true,"label":"pos"}',
  '{"id":2,"kind":"view","value":2,"ok":null,"label":"neg"}',
  '',
  'not json',
  '[1,2]',
  '{"id":3,"kind":"click","value":"3","extra":{"a":1},"label":"pos"}',
  '{"id":4.5,"label":null}',
].join('\n');

describe('profileSnapshot', () => {
  it('counts files by extension and profiles CSV and JSONL tables', async () => {
    const { profile } = await profileOf(
      {
        'data/train.csv': TRAIN_CSV,
        'data/events.jsonl': `${EVENTS_JSONL}\n`,
        'README.md': '# hi',
        'models/w.BIN': Buffer.alloc(100),
        'empty.csv': '',
      },
      { labelColumn: 'label' },
      (dir) => symlinkSync('data/train.csv', join(dir, 'link.csv')),
    );

    expect(profile.files).toBe(5);
    expect(profile.symlinks).toBe(1);
    expect(profile.bytes).toBe(TRAIN_CSV.length + EVENTS_JSONL.length + 1 + 4 + 100);
    expect(profile.extensions).toEqual({
      '.bin': { files: 1, bytes: 100 },
      '.csv': { files: 2, bytes: TRAIN_CSV.length },
      '.jsonl': { files: 1, bytes: EVENTS_JSONL.length + 1 },
      '.md': { files: 1, bytes: 4 },
    });
    expect(Object.keys(profile.tables).sort()).toEqual(['data/events.jsonl', 'data/train.csv', 'empty.csv']);
    expect(profile.notes).toEqual([]);

    expect(profile.tables['data/train.csv']).toEqual({
      format: 'csv',
      rows: 5,
      columns: {
        id: { type: 'integer', missing: 0, distinct: 5 },
        age: { type: 'mixed', missing: 1, distinct: 4 },
        score: { type: 'number', missing: 1, distinct: 4 },
        label: { type: 'string', missing: 0, distinct: 3 },
        flag: { type: 'boolean', missing: 1, distinct: 3 },
        comment: { type: 'string', missing: 1, distinct: 4 },
      },
      label: { column: 'label', classes: { bird: 1, cat: 3, dog: 1 }, missing: 0 },
    });

    expect(profile.tables['data/events.jsonl']).toEqual({
      format: 'jsonl',
      rows: 4,
      columns: {
        id: { type: 'number', missing: 0, distinct: 4 },
        kind: { type: 'string', missing: 1, distinct: 2 },
        value: { type: 'mixed', missing: 1, distinct: 3 },
        ok: { type: 'boolean', missing: 3, distinct: 1 },
        label: { type: 'string', missing: 1, distinct: 2 },
        extra: { type: 'string', missing: 3, distinct: 1 },
      },
      label: { column: 'label', classes: { neg: 1, pos: 2 }, missing: 1 },
      invalidRows: 2,
      notes: ['line 4 is not valid JSON', 'line 5 is not a JSON object'],
    });

    expect(profile.tables['empty.csv']).toEqual({ format: 'csv', rows: 0, columns: {}, notes: ['no header record: the file is empty'] });
  });

  it('names empty and repeated headers, strips a BOM, and counts ragged rows', async () => {
    const { profile } = await profileOf({ 't.csv': '\uFEFFa,,a,a\n1,2,3,4,5\n6,7\n' }, { labelColumn: 'nope' });
    const t = profile.tables['t.csv']!;
    expect(Object.keys(t.columns)).toEqual(['a', 'column_2', 'a_2', 'a_3']);
    expect(t.columns.a_3).toEqual({ type: 'integer', missing: 1, distinct: 1 });
    expect(t.raggedRows).toBe(1);
    expect(t.label).toBeUndefined();
    expect(t.notes).toEqual([
      'header field 2 is empty; named "column_2"',
      'header "a" repeats; the copy at field 3 is named "a_2"',
      'header "a" repeats; the copy at field 4 is named "a_3"',
      'record 2 has 5 fields, the header 4; extra fields are ignored',
      'label column "nope" not in the header',
    ]);
  });

  it('streams a multi-chunk table whose records straddle chunk boundaries', async () => {
    const rows: string[] = ['id,text,label'];
    let expectedLong = 0;
    for (let i = 0; i < 60_000; i++) {
      const long = i % 7 === 0;
      if (long) expectedLong++;
      // Quoted fields with commas, quotes, CRLF and non-ASCII text, so boundaries fall everywhere.
      const text = long ? `"é ""${i}"",\r\n${'x'.repeat(i % 50)}"` : `t${i % 100}${'y'.repeat(70)}`;
      rows.push(`${i},${text},${i % 3 === 0 ? 'a' : 'b'}`);
    }
    const csv = `${rows.join('\r\n')}\r\n`;
    expect(Buffer.byteLength(csv)).toBeGreaterThan(4 * 1024 * 1024 + 1);
    const { profile, store, id } = await profileOf({ 'big.csv': csv }, { labelColumn: 'label', maxDistinct: 50 });
    for await (const { entry } of readTree(id, (x) => store.get(x))) expect(entry.kind === 'file' && entry.chunks.length).toBeGreaterThan(1);
    const t = profile.tables['big.csv']!;
    expect(t.rows).toBe(60_000);
    expect(t.notes).toBeUndefined();
    expect(t.columns.id).toEqual({ type: 'integer', missing: 0, distinct: 50, distinctCapped: true });
    expect(t.columns.label).toEqual({ type: 'string', missing: 0, distinct: 2 });
    expect(t.label!.classes).toEqual({ a: 20_000, b: 40_000 });
    expect(expectedLong).toBeGreaterThan(0);
  });

  it('skips tables over the size cap with a note, and caps label classes', async () => {
    const { profile } = await profileOf(
      { 'big.jsonl': '{"a":1}\n'.repeat(100), 'small.csv': 'y\nu\nv\nw\nu\n' },
      { maxTableBytes: 500, labelColumn: 'y', maxClasses: 2 },
    );
    expect(Object.keys(profile.tables)).toEqual(['small.csv']);
    expect(profile.notes).toEqual([{ path: 'big.jsonl', note: 'not profiled: 800 bytes is over the 500-byte table cap' }]);
    expect(profile.extensions['.jsonl']).toEqual({ files: 1, bytes: 800 });
    expect(profile.tables['small.csv']!.label).toEqual({ column: 'y', classes: { u: 2, v: 1 }, missing: 0, other: 1 });
  });

  it('fails on a damaged snapshot instead of profiling part of it', async () => {
    const { store, id } = await profileOf({ 'a.csv': 'x\n1\n' });
    await store.delete(id);
    await expect(profileSnapshot(id, { store })).rejects.toThrow(BlobNotFoundError);
  });
});

describe('diffProfiles', () => {
  it('reports file, row, missing-rate, type and class-balance changes', async () => {
    const v1 = await profileOf(
      {
        'train.csv': 'id,age,label\n1,30,cat\n2,40,cat\n3,,dog\n4,50,dog\n',
        'old.jsonl': '{"a":1}\n',
        'img/1.png': Buffer.alloc(10),
      },
      { labelColumn: 'label' },
    );
    const v2 = await profileOf(
      {
        'train.csv': 'id,age,label,city\n1,30,cat,x\n2,,cat,y\n3,,cat,\n4,n/a,cat,z\n5,20,cat,w\n6,60,cat,x\n7,70,cat,y\n8,80,dog,z\n',
        'new.jsonl': '{"b":true}\n',
        'img/1.png': Buffer.alloc(10),
        'img/2.png': Buffer.alloc(30),
      },
      { labelColumn: 'label' },
    );
    const d = diffProfiles(v1.profile, v2.profile);

    expect(d.files).toEqual({ a: 3, b: 4, delta: 1 });
    expect(d.bytes.delta).toBe(v2.profile.bytes - v1.profile.bytes);
    expect(d.extensions['.png']).toEqual({ files: { a: 1, b: 2, delta: 1 }, bytes: { a: 10, b: 40, delta: 30 } });
    expect(d.extensions['.jsonl']).toEqual({ files: { a: 1, b: 1, delta: 0 }, bytes: { a: 8, b: 11, delta: 3 } });
    expect(d.tablesAdded).toEqual(['new.jsonl']);
    expect(d.tablesRemoved).toEqual(['old.jsonl']);
    expect(Object.keys(d.tables)).toEqual(['train.csv']);

    const t = d.tables['train.csv']!;
    expect(t.rows).toEqual({ a: 4, b: 8, delta: 4 });
    expect(t.columnsAdded).toEqual(['city']);
    expect(t.columnsRemoved).toEqual([]);
    expect(t.missingRate.age).toEqual({ a: 0.25, b: 0.25, delta: 0 });
    expect(t.missingRate.id).toEqual({ a: 0, b: 0, delta: 0 });
    expect(t.missingRate.city).toBeUndefined();
    expect(t.typeChanges).toEqual({ age: { a: 'integer', b: 'mixed' } });
    expect(t.label!.column).toBe('label');
    expect(t.label!.classes.cat).toEqual({ a: 2, b: 7, shareA: 0.5, shareB: 0.875, shift: 0.375 });
    expect(t.label!.classes.dog).toEqual({ a: 2, b: 1, shareA: 0.5, shareB: 0.125, shift: -0.375 });
    expect(t.label!.maxShift).toEqual({ class: 'cat', shift: 0.375 });
  });

  it('reports nothing moved for identical profiles, and classes present on one side only', async () => {
    const files = { 'x.csv': 'label\na\nb\n' };
    const p = (await profileOf(files, { labelColumn: 'label' })).profile;
    const same = diffProfiles(p, p);
    expect(same.extensions).toEqual({});
    expect(same.tables['x.csv']!.typeChanges).toEqual({});
    expect(same.tables['x.csv']!.label!.maxShift).toEqual({ class: 'a', shift: 0 });

    const q = (await profileOf({ 'x.csv': 'label\na\nc\nc\nc\n' }, { labelColumn: 'label' })).profile;
    const d = diffProfiles(p, q).tables['x.csv']!.label!;
    expect(d.classes.b).toEqual({ a: 1, b: 0, shareA: 0.5, shareB: 0, shift: -0.5 });
    expect(d.classes.c).toEqual({ a: 0, b: 3, shareA: 0, shareB: 0.75, shift: 0.75 });
    expect(d.maxShift).toEqual({ class: 'c', shift: 0.75 });
  });
});
