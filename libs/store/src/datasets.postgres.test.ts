import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { testDrivers } from './testing.ts';
import type { Store } from './types.ts';

const id = (c: string) => c.repeat(64).slice(0, 64);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as CairnError).code;
  }
  throw new Error('expected a failure');
}

describe.each(testDrivers())('datasets and snapshots on $name', (driver) => {
  let store: Store;
  beforeAll(async () => {
    store = await driver.open();
  });
  afterAll(() => driver.cleanup());

  it('records a history with parents, newest first, and lineage edges', async () => {
    const a = await store.recordSnapshot({ dataset: 'mnist', id: id('a'), fileCount: 10, bytes: 1000, message: 'first' });
    expect(a).toMatchObject({ dataset: 'mnist', parentId: null, created: true, fileCount: 10 });
    await new Promise((r) => setTimeout(r, 5));
    const b = await store.recordSnapshot({ dataset: 'mnist', id: id('b'), fileCount: 11, bytes: 1100, profile: { files: 11 } });
    expect(b.parentId).toBe(id('a'));
    // Unchanged data: same id again records nothing new.
    const again = await store.recordSnapshot({ dataset: 'mnist', id: id('b'), fileCount: 11, bytes: 1100 });
    expect(again.created).toBe(false);
    const log = await store.listSnapshots('mnist');
    expect(log.map((s) => s.id)).toEqual([id('b'), id('a')]);
    expect(log[0]!.profile).toEqual({ files: 11 });
    expect((await store.latestSnapshot('mnist'))?.id).toBe(id('b'));
    const up = await store.lineage({ kind: 'snapshot', id: id('b') }, { direction: 'upstream' });
    expect(up.edges.map((e) => e.relation).sort()).toEqual(['parent_of', 'version', 'version']);
  });

  it('keeps the same content in two datasets apart', async () => {
    await store.recordSnapshot({ dataset: 'copy-1', id: id('c'), fileCount: 1, bytes: 1 });
    const other = await store.recordSnapshot({ dataset: 'copy-2', id: id('c'), fileCount: 1, bytes: 1 });
    expect(other.created).toBe(true);
    expect((await store.listDatasets()).filter((d) => d.latestSnapshotId === id('c')).map((d) => d.name).sort()).toEqual(['copy-1', 'copy-2']);
    expect((await store.allSnapshotIds()).sort()).toEqual([id('a'), id('b'), id('c')]);
  });

  it('names every recorded snapshot and every artifact blob as a gc root', async () => {
    const e = await store.createExperiment({ name: 'roots' });
    const run = await store.createRun({ experimentId: e.id });
    await store.logArtifact(run.id, { path: 'model/weights.bin', hash: id('e'), size: 10 });
    // An artifact hashed some other way (a 32-hex digest) does not live in the blob store.
    await store.logArtifact(run.id, { path: 'notes.txt', hash: 'f'.repeat(32), size: 1 });
    const roots = await store.blobRoots();
    expect(roots.snapshots.sort()).toEqual([id('a'), id('b'), id('c')]);
    expect(roots.blobs).toEqual([id('e')]);
  });

  it('resolves unique prefixes and rejects bad ids', async () => {
    expect(await store.resolveSnapshotId('aaaa')).toBe(id('a'));
    expect(await store.resolveSnapshotId(id('b'))).toBe(id('b'));
    expect(await code(store.resolveSnapshotId('ffff'))).toBe('NOT_FOUND');
    expect(await code(store.resolveSnapshotId('xyz'))).toBe('INVALID_INPUT');
    expect(await code(store.recordSnapshot({ dataset: 'mnist', id: '../../etc', fileCount: 0, bytes: 0 }))).toBe('INVALID_INPUT');
    expect(await code(store.recordSnapshot({ dataset: 'mnist', id: id('d'), fileCount: -1, bytes: 0 }))).toBe('INVALID_INPUT');
    expect(await code(store.listSnapshots('no-such-dataset'))).toBe('NOT_FOUND');
  });
});
