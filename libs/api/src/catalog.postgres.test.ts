import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBlobStore, profileSnapshot, snapshotDir } from '@cairn/snapshot';
import type { Deployment, ModelVersion, Run, Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { nearestNodes } from './routers/lineage.ts';
import { callerFor, trpcError } from './test-support.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-api-catalog-'));
const blobs = new LocalBlobStore(path.join(tmp, 'blobs'));

function writeTree(dir: string, files: Record<string, string>): string {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Two versions of a small dataset, snapshotted into a real blob store once for both engines. */
const versions = (async () => {
  const dir = path.join(tmp, 'data');
  const rows = (n: number, missing: number) => ['x,label', ...Array.from({ length: n }, (_, i) => `${i < missing ? '' : i},${i % 3 === 0 ? 'b' : 'a'}`)].join('\n');
  writeTree(dir, { 'train.csv': rows(30, 0), 'README.md': 'v1', 'images/a.png': 'png-a' });
  const v1 = await snapshotDir(dir, { store: blobs });
  const p1 = await profileSnapshot(v1.id, { store: blobs, labelColumn: 'label' });
  writeTree(dir, { 'train.csv': rows(40, 4), 'images/a.png': 'png-a', 'images/b.png': 'png-b', 'extra.txt': 'new' });
  const v2 = await snapshotDir(dir, { store: blobs });
  const p2 = await profileSnapshot(v2.id, { store: blobs, labelColumn: 'label' });
  return { v1: { ...v1, profile: p1 }, v2: { ...v2, profile: p2 } };
})();

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a lineage graph too large to draw', () => {
  it('keeps the nodes nearest the root, connected', () => {
    // A dataset → 3 snapshots → 1000 runs each → a version for run 0 of each.
    const node = (kind: 'dataset' | 'snapshot' | 'run' | 'model_version', id: string) => ({ kind, id });
    const nodes = [node('dataset', 'd')];
    const edges = [];
    for (let s = 0; s < 3; s++) {
      nodes.push(node('snapshot', `s${s}`));
      edges.push({ from: node('dataset', 'd'), to: node('snapshot', `s${s}`) });
      for (let r = 0; r < 1000; r++) {
        nodes.push(node('run', `r${s}-${r}`));
        edges.push({ from: node('snapshot', `s${s}`), to: node('run', `r${s}-${r}`) });
      }
      nodes.push(node('model_version', `v${s}`));
      edges.push({ from: node('run', `r${s}-0`), to: node('model_version', `v${s}`) });
    }
    const kept = nearestNodes(node('dataset', 'd'), nodes, edges, 10);
    expect(kept).toHaveLength(10);
    expect(kept.slice(0, 4).map((n) => n.id)).toEqual(['d', 's0', 's1', 's2']);
    expect(kept.every((n) => n.kind === 'dataset' || n.kind === 'snapshot' || n.kind === 'run')).toBe(true);
    expect(nearestNodes(node('dataset', 'd'), nodes, edges, 5000)).toHaveLength(nodes.length);
  });
});

/** Datasets, snapshot diffs and drift, lineage and the model registry through the router. */
describe.each(testDrivers())('datasets, lineage and models on $name', (driver) => {
  let store: Store;
  let api: ReturnType<typeof callerFor>;
  let v1: Awaited<typeof versions>['v1'];
  let v2: Awaited<typeof versions>['v2'];
  let run: Run;
  let version: ModelVersion;
  let deployment: Deployment;

  beforeAll(async () => {
    ({ v1, v2 } = await versions);
    store = await driver.open();
    api = callerFor(store, { blobs });
    await store.recordSnapshot({ dataset: 'digits', id: v1.id, fileCount: v1.files, bytes: v1.bytes, message: 'first', profile: v1.profile });
    await store.recordSnapshot({ dataset: 'digits', id: v2.id, fileCount: v2.files, bytes: v2.bytes, message: 'more rows' });
    await store.ensureDataset({ name: 'empty' });
    const exp = await store.ensureExperiment({ name: 'digits-cnn' });
    run = await store.createRun({ experimentId: exp.id, name: 'cnn-1', snapshotIds: [v2.id], code: { codeHash: 'c'.repeat(64), gitSha: '0123456789abcdef' } });
    await store.endRun(run.id, 'finished');
    version = await store.registerModelVersion({ name: 'digits', runId: run.id, artifactHash: 'd'.repeat(64), description: 'first cut' });
    await store.registerModelVersion({ name: 'digits', artifactHash: 'e'.repeat(64) });
    await store.setModelAlias('digits', 'production', 1);
    await store.setModelAlias('digits', 'staging', 2);
    await store.setModelAlias('digits', 'production', 2);
    deployment = await store.recordDeployment({ modelVersionId: version.id, environment: 'prod', host: 'web-1' });
  });
  afterAll(() => driver.cleanup());

  it('lists datasets with their latest snapshot, and their snapshots newest first', async () => {
    const list = await api.datasets.list();
    expect(list.map((d) => [d.name, d.snapshotCount])).toEqual([
      ['digits', 2],
      ['empty', 0],
    ]);
    expect(list[0]).toMatchObject({ project: 'default', latest: { id: v2.id, fileCount: v2.files, bytes: v2.bytes, message: 'more rows', createdAt: expect.any(Date) } });
    expect(list[1]!.latest).toBeNull();
    const snaps = await api.datasets.snapshots({ dataset: 'digits' });
    expect(snaps.map((s) => [s.id, s.parentId, s.message])).toEqual([
      [v2.id, v1.id, 'more rows'],
      [v1.id, null, 'first'],
    ]);
    expect((await api.datasets.snapshots({ dataset: 'digits', limit: 1 })).length).toBe(1);
    const missing = await trpcError(api.datasets.snapshots({ dataset: 'nope' }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "dataset 'nope' not found"]);
  });

  it('diffs two snapshots by id prefix, file by file or by folder, with counts and a limit', async () => {
    const diff = await api.datasets.diff({ a: v1.id.slice(0, 8), b: v2.id });
    expect([diff.a, diff.b]).toEqual([v1.id, v2.id]);
    expect(diff.added.map((d) => d.path).sort()).toEqual(['extra.txt', 'images/b.png']);
    expect(diff.removed.map((d) => d.path)).toEqual(['README.md']);
    expect(diff.modified.map((d) => d.path)).toEqual(['train.csv']);
    expect(diff.counts).toEqual({ added: 2, removed: 1, modified: 1 });
    expect(diff.truncated).toBe(false);
    const limited = await api.datasets.diff({ a: v1.id, b: v2.id, limit: 1 });
    expect([limited.added.length, limited.counts.added, limited.truncated]).toEqual([1, 2, true]);
    const same = await api.datasets.diff({ a: v1.id, b: v1.id });
    expect(same.counts).toEqual({ added: 0, removed: 0, modified: 0 });
    const missing = await trpcError(api.datasets.diff({ a: 'ffff0000', b: v2.id }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "snapshot 'ffff0000' not found"]);
    const noBlobs = callerFor(store, { blobs: new LocalBlobStore(path.join(tmp, 'empty-blobs')) });
    const gone = await trpcError(noBlobs.datasets.diff({ a: v1.id, b: v2.id }));
    expect(gone.code).toBe('NOT_FOUND');
    expect(gone.message).toMatch(/is not in this server's blob store$/);
    expect(gone.message).not.toContain(tmp);
  });

  it('reports drift between recorded profiles, and which snapshots lack one', async () => {
    const partial = await api.datasets.drift({ a: v1.id, b: v2.id });
    expect(partial).toEqual({ a: v1.id, b: v2.id, drift: null, missing: [v2.id] });
    await store.recordSnapshot({ dataset: 'digits-profiled', id: v2.id, fileCount: v2.files, bytes: v2.bytes, profile: v2.profile });
    const { drift } = await api.datasets.drift({ a: v1.id, b: v2.id });
    expect(drift!.files).toEqual({ a: 3, b: 4, delta: 1 });
    const table = drift!.tables['train.csv']!;
    expect(table.rows).toEqual({ a: 30, b: 40, delta: 10 });
    expect(table.missingRate.x!.b).toBeCloseTo(0.1);
    expect(table.label!.column).toBe('label');
  });

  it('draws lineage with labels: deployment ← version ← run ← snapshot and code', async () => {
    const g = await api.lineage.graph({ node: { kind: 'deployment', id: deployment.id }, direction: 'upstream' });
    expect(g.root).toEqual({ key: `deployment:${deployment.id}`, kind: 'deployment', id: deployment.id, label: 'prod', sublabel: 'web-1' });
    const byKind = (k: string) => g.nodes.filter((n) => n.kind === k);
    expect(byKind('model_version').map((n) => n.label)).toEqual(['digits@1']);
    expect(byKind('run')).toEqual([{ key: `run:${run.id}`, kind: 'run', id: run.id, label: 'cnn-1', sublabel: 'digits-cnn', status: 'finished' }]);
    expect(byKind('code')).toEqual([expect.objectContaining({ label: 'c'.repeat(12), sublabel: 'git 0123456789' })]);
    expect(byKind('snapshot').map((n) => [n.label, n.sublabel]).sort()).toEqual(
      [
        [v1.id.slice(0, 12), 'digits'],
        [v2.id.slice(0, 12), 'digits, digits-profiled'],
      ].sort(),
    );
    expect(byKind('dataset').map((n) => n.label).sort()).toEqual(['digits', 'digits-profiled']);
    expect(g.edges).toContainEqual({ from: `run:${run.id}`, to: `model_version:${version.id}`, relation: 'registered_as' });
    expect(g.edges).toContainEqual({ from: `snapshot:${v2.id}`, to: `run:${run.id}`, relation: 'input_to' });
    for (const e of g.edges) expect(g.nodes.some((n) => n.key === e.from) && g.nodes.some((n) => n.key === e.to)).toBe(true);
    expect(g.truncated).toBe(false);

    const down = await api.lineage.graph({ node: { kind: 'run', id: run.id.slice(0, 24) }, direction: 'downstream', depth: 1 });
    expect(down.root.id).toBe(run.id);
    expect(down.nodes.map((n) => n.kind).sort()).toEqual(['model_version', 'run']);
    const missing = await trpcError(api.lineage.graph({ node: { kind: 'model_version', id: '0190aaaa-0000-7000-8000-000000000000' } }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "model version '0190aaaa-0000-7000-8000-000000000000' not found"]);
    const bad = await trpcError(api.lineage.graph({ node: { kind: 'planet' as 'run', id: 'x' } }));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/^invalid input: node\.kind: /);
  });

  it('lists models and shows one with versions, aliases, their history and deployments', async () => {
    expect(await api.models.list()).toEqual([
      expect.objectContaining({ name: 'digits', project: 'default', versionCount: 2, latestVersion: 2, aliases: { production: 2, staging: 2 } }),
    ]);
    const m = await api.models.get({ name: 'digits' });
    expect(m.versions.map((v) => [v.version, v.aliases.sort(), v.deployments.length])).toEqual([
      [2, ['production', 'staging'], 0],
      [1, [], 1],
    ]);
    expect(m.versions[1]).toMatchObject({ runId: run.id, description: 'first cut', modelName: 'digits' });
    expect(m.aliasHistory.map((h) => [h.alias, h.version, h.previous])).toEqual([
      ['production', 1, null],
      ['staging', 2, null],
      ['production', 2, 1],
    ]);
    expect(m.deployments).toEqual([expect.objectContaining({ id: deployment.id, environment: 'prod', host: 'web-1', version: 1, stoppedAt: null })]);
    const missing = await trpcError(api.models.get({ name: 'nope' }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "model 'nope' not found"]);
  });
});
