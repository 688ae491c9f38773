import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from './blob-store.ts';
import { hashBytes } from './hash.ts';
import { snapshotDir } from './snapshot.ts';
import { verify } from './verify.ts';

const base = mkdtempSync(join(tmpdir(), 'cairn-verify-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(base, `${what}${n++}`);

async function setup() {
  const store = new LocalBlobStore(fresh('store'));
  const src = fresh('src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha');
  writeFileSync(join(src, 'sub/copy.txt'), 'alpha');
  writeFileSync(join(src, 'sub/b.txt'), 'beta');
  writeFileSync(join(src, 'c.txt'), 'gamma');
  writeFileSync(join(src, 'empty'), '');
  const { id } = await snapshotDir(src, { store });
  return { store, id };
}

describe('verify', () => {
  it('reports nothing for a clean snapshot and checks each blob once', async () => {
    const { store, id } = await setup();
    const r = await verify([id, id], { store });
    // 2 tree nodes + 3 distinct chunks (alpha is shared).
    expect(r).toEqual({ checked: 5, corrupt: [], missing: [] });
  });

  it('names the files of a corrupt blob and of a missing blob', async () => {
    const { store, id } = await setup();
    const alpha = hashBytes(Buffer.from('alpha'));
    const gamma = hashBytes(Buffer.from('gamma'));
    const p = store.pathOf(alpha);
    chmodSync(p, 0o644);
    const b = readFileSync(p);
    b[0] = b[0]! ^ 0x01;
    writeFileSync(p, b);
    await store.delete(gamma);

    const r = await verify([id], { store });
    expect(r.checked).toBe(5);
    expect(r.corrupt).toEqual([{ blob: alpha, files: ['a.txt', 'sub/copy.txt'] }]);
    expect(r.missing).toEqual([{ blob: gamma, files: ['c.txt'] }]);
  });

  it('reports a damaged tree node under its directory', async () => {
    const { store, id } = await setup();
    await store.delete(id);
    const r = await verify([id], { store });
    expect(r).toEqual({ checked: 1, corrupt: [], missing: [{ blob: id, files: ['.'] }] });
  });
});
