import { afterAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { testDrivers } from './testing.ts';

const hash = (c: string) => c.repeat(64);

async function failure(p: Promise<unknown>): Promise<CairnError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CairnError);
  return e as CairnError;
}

describe.each(testDrivers())('model registry on $name', (driver) => {
  afterAll(() => driver.cleanup());

  it('numbers versions per model, resolves numbers, latest and aliases, and links runs to versions', async () => {
    const store = await driver.open();
    const exp = await store.ensureExperiment({ name: 'iris' });
    const run = await store.createRun({ experimentId: exp.id });
    const v1 = await store.registerModelVersion({ name: 'iris-mlp', runId: run.id, artifactHash: hash('a'), description: 'first', tags: { team: 'ml' } });
    const v2 = await store.registerModelVersion({ name: 'iris-mlp', artifactHash: hash('b') });
    const other = await store.registerModelVersion({ name: 'digits', artifactHash: hash('c') });
    expect([v1.version, v2.version, other.version]).toEqual([1, 2, 1]);
    expect(v1).toMatchObject({ modelName: 'iris-mlp', runId: run.id, artifactHash: hash('a'), description: 'first', tags: { team: 'ml' } });

    expect((await store.resolveModelVersion('iris-mlp')).version).toBe(2);
    expect((await store.resolveModelVersion('iris-mlp', 1)).id).toBe(v1.id);
    expect((await store.resolveModelVersion('iris-mlp', '2')).id).toBe(v2.id);
    expect((await failure(store.resolveModelVersion('iris-mlp', 3))).code).toBe('NOT_FOUND');
    expect((await failure(store.resolveModelVersion('nope'))).code).toBe('NOT_FOUND');
    expect((await failure(store.resolveModelVersion('iris-mlp', 'production'))).message).toMatch(/iris-mlp@production/);

    // Lineage: the run that made it, downstream to its version.
    const down = await store.lineage({ kind: 'run', id: run.id }, { direction: 'downstream' });
    expect(down.edges).toContainEqual(expect.objectContaining({ relation: 'registered_as', to: { kind: 'model_version', id: v1.id } }));

    // Many registrations at once: distinct, gapless numbers.
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => store.registerModelVersion({ name: 'race', artifactHash: hash(String(i)) })));
    expect(many.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const list = await store.listModels();
    expect(list.map((m) => [m.name, m.versionCount, m.latestVersion])).toEqual([
      ['digits', 1, 1],
      ['iris-mlp', 2, 2],
      ['race', 8, 8],
    ]);
  });

  it('moves aliases atomically with their history, removes them, and refuses bad names', async () => {
    const store = await driver.open();
    for (const c of ['a', 'b', 'c']) await store.registerModelVersion({ name: 'm', artifactHash: hash(c) });
    expect(await store.setModelAlias('m', 'production', 1)).toMatchObject({ alias: 'production', version: 1, previous: null });
    expect(await store.setModelAlias('m', 'staging', 3)).toMatchObject({ version: 3, previous: null });
    expect(await store.setModelAlias('m', 'production', 2)).toMatchObject({ version: 2, previous: 1 });
    expect((await store.resolveModelVersion('m', 'production')).version).toBe(2);
    expect((await store.getModel('m')).aliases).toEqual({ production: 2, staging: 3 });
    expect((await store.listModels()).find((x) => x.name === 'm')?.aliases).toEqual({ production: 2, staging: 3 });

    expect(await store.setModelAlias('m', 'staging', null)).toMatchObject({ version: null, previous: 3 });
    expect((await failure(store.resolveModelVersion('m', 'staging'))).code).toBe('NOT_FOUND');
    expect((await failure(store.setModelAlias('m', 'staging', null))).code).toBe('NOT_FOUND');

    const history = await store.aliasHistory('m');
    expect(history.map((h) => [h.alias, h.version, h.previous])).toEqual([
      ['production', 1, null],
      ['staging', 3, null],
      ['production', 2, 1],
      ['staging', null, 3],
    ]);
    expect((await store.aliasHistory('m', 'production')).map((h) => h.version)).toEqual([1, 2]);

    for (const bad of ['latest', '7', 'Prod', 'has space', '', 'x'.repeat(70)]) expect((await failure(store.setModelAlias('m', bad, 1))).code).toBe('INVALID_INPUT');
    expect((await failure(store.setModelAlias('m', 'canary', 9))).code).toBe('NOT_FOUND');
    expect((await failure(store.registerModelVersion({ name: 'm', artifactHash: 'nothex' }))).code).toBe('INVALID_INPUT');
    expect((await failure(store.registerModelVersion({ name: '../etc', artifactHash: hash('d') }))).code).toBe('INVALID_INPUT');
    // Nothing half-done by the refusals.
    expect((await store.getModel('m')).versions.map((v) => v.version)).toEqual([3, 2, 1]);
  });

  it('updates a version’s description and tags, and records deployments with lineage', async () => {
    const store = await driver.open();
    const v = await store.registerModelVersion({ name: 'served', artifactHash: hash('e'), tags: { a: '1' } });
    expect(await store.updateModelVersion('served', 1, { description: 'calibrated', tags: { b: '2' } })).toMatchObject({ description: 'calibrated', tags: { a: '1', b: '2' } });

    const d = await store.recordDeployment({ modelVersionId: v.id, environment: 'production', host: 'web-1' });
    expect(d).toMatchObject({ modelVersionId: v.id, environment: 'production', host: 'web-1', stoppedAt: null });
    expect((await store.listDeployments({ active: true })).map((x) => x.id)).toEqual([d.id]);
    const stopped = await store.endDeployment(d.id);
    expect(stopped.stoppedAt).toBeInstanceOf(Date);
    expect((await store.endDeployment(d.id)).stoppedAt).toEqual(stopped.stoppedAt); // the first stop wins
    expect(await store.listDeployments({ active: true })).toEqual([]);
    expect((await store.listDeployments({ modelVersionId: v.id })).map((x) => x.id)).toEqual([d.id]);
    const down = await store.lineage({ kind: 'model_version', id: v.id }, { direction: 'downstream' });
    expect(down.edges).toContainEqual(expect.objectContaining({ relation: 'deployed_as', to: { kind: 'deployment', id: d.id } }));

    expect((await failure(store.recordDeployment({ modelVersionId: v.id, environment: '../prod', host: 'h' }))).code).toBe('INVALID_INPUT');
    expect((await failure(store.recordDeployment({ modelVersionId: '00000000-0000-4000-8000-000000000000', environment: 'prod', host: 'h' }))).code).toBe('NOT_FOUND');
  });

  it('answers "which code and data made what is deployed" with one upstream lineage query', async () => {
    const store = await driver.open();
    const snap = await store.recordSnapshot({ dataset: 'iris-data', id: hash('1'), fileCount: 1, bytes: 10 });
    const exp = await store.ensureExperiment({ name: 'served-lineage' });
    const run = await store.createRun({ experimentId: exp.id, status: 'queued', snapshotIds: [snap.id], code: { gitSha: 'f'.repeat(40), gitDirty: false, codeHash: hash('2') } });
    // A code bundle that changes when the job starts (a resubmitted module) is linked too.
    await store.startRun(run.id, { code: { codeHash: hash('3') } });
    const v = await store.registerModelVersion({ name: 'lineage-mlp', runId: run.id, artifactHash: hash('4') });
    const d = await store.recordDeployment({ modelVersionId: v.id, environment: 'production', host: 'web-1' });

    const up = await store.lineage({ kind: 'deployment', id: d.id }, { direction: 'upstream' });
    const key = (n: { kind: string; id: string }) => `${n.kind}:${n.id}`;
    expect(up.nodes.map(key).sort()).toEqual(
      [`deployment:${d.id}`, `model_version:${v.id}`, `model:${v.modelId}`, `run:${run.id}`, `snapshot:${snap.id}`, `dataset:${snap.datasetId}`, `code:${hash('2')}`, `code:${hash('3')}`].sort(),
    );
    expect(up.edges).toContainEqual(expect.objectContaining({ relation: 'input_to', from: { kind: 'snapshot', id: snap.id }, to: { kind: 'run', id: run.id } }));
    expect(up.edges).toContainEqual(expect.objectContaining({ relation: 'ran_in', from: { kind: 'code', id: hash('2') }, to: { kind: 'run', id: run.id } }));

    // And forward from the snapshot: every run and model that used it.
    const down = await store.lineage({ kind: 'snapshot', id: snap.id }, { direction: 'downstream' });
    expect(down.nodes.map(key)).toEqual(expect.arrayContaining([`run:${run.id}`, `model_version:${v.id}`, `deployment:${d.id}`]));
  });
});
