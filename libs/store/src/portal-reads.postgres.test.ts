import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { testDrivers } from './testing.ts';
import type { Experiment, Run, Store } from './types.ts';

const hash = (c: string) => c.repeat(64);

/** The batched reads the portal's API makes: one store per driver, seeded once. */
describe.each(testDrivers())('portal reads on $name', (driver) => {
  let store: Store;
  let vision: Experiment;
  let nlp: Experiment;
  let other: Experiment;
  let runs: Run[];

  beforeAll(async () => {
    store = await driver.open();
    vision = await store.ensureExperiment({ name: 'vision' });
    nlp = await store.ensureExperiment({ name: 'nlp' });
    other = await store.ensureExperiment({ project: 'elsewhere', name: 'vision' });
    runs = [];
    for (let i = 0; i < 6; i++) {
      const exp = i < 4 ? vision : nlp;
      const run = await store.createRun({
        experimentId: exp.id,
        name: `r${i}`,
        params: exp === vision ? { lr: i / 10, optimizer: 'adam' } : { layers: i },
        tags: exp === vision ? { team: 'cv' } : { owner: 'ana' },
        code: { codeHash: hash(String(i % 2)), gitSha: `sha${i}` },
      });
      await store.logMetrics(run.id, [
        { key: 'acc', value: [0.5, 0.9, Number.NaN, 0.7, 0.2, 0.3][i]!, step: 0 },
        ...(exp === nlp ? [{ key: 'perplexity', value: 10 - i, step: 0 }] : []),
      ]);
      if (i !== 3) await store.endRun(run.id, i === 1 ? 'abandoned' : 'finished');
      runs.push(run);
    }
    await store.createRun({ experimentId: other.id, params: { secret: 1 } });
  });
  afterAll(() => driver.cleanup());

  it('reads many runs with their details in the order asked, leaving out unknown ids', async () => {
    const ids = [runs[4]!.id, runs[0]!.id, '00000000-0000-7000-8000-000000000000', runs[4]!.id];
    const got = await store.getRuns(ids);
    expect(got.map((r) => r.name)).toEqual(['r4', 'r0']);
    expect(got[1]).toMatchObject({ params: { lr: '0', optimizer: 'adam' }, tags: { team: 'cv' }, metrics: { acc: { last: 0.5, count: 1 } } });
    expect(await store.getRuns([])).toEqual([]);
    await expect(store.getRuns(['nope'])).rejects.toBeInstanceOf(CairnError);
    const exps = await store.getExperiments([nlp.id, vision.id.toUpperCase(), 'not-a-uuid']);
    expect(exps.map((e) => e.id)).toEqual([nlp.id, vision.id]);
    const owners = await store.listExperimentOwners();
    expect(owners).toHaveLength(3);
    expect(owners).toContainEqual({ id: other.id, projectId: other.projectId });
  });

  it('resolves run ids and prefixes among the runs of some projects only', async () => {
    const [def, elsewhere] = await Promise.all([store.ensureProject('default'), store.ensureProject('elsewhere')]);
    const hidden = await store.createRun({ experimentId: other.id });
    expect(await store.resolveRunIdIn(runs[0]!.id, [def.id])).toBe(runs[0]!.id);
    expect(await store.resolveRunIdIn(runs[0]!.id.toUpperCase(), [def.id])).toBe(runs[0]!.id);
    expect(await store.resolveRunIdIn(hidden.id.slice(0, 30), [elsewhere.id, def.id])).toBe(hidden.id);
    await expect(store.resolveRunIdIn(hidden.id, [def.id])).rejects.toMatchObject({ code: 'NOT_FOUND', message: `run '${hidden.id}' not found` });
    await expect(store.resolveRunIdIn(runs[0]!.id, [])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Every run shares its first 4 hex digits with the others here (UUIDv7: the time comes first).
    await expect(store.resolveRunIdIn(runs[0]!.id.slice(0, 4), [def.id])).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/ambiguous/) });
    await expect(store.resolveRunIdIn('zz', [def.id])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await store.deleteRun(hidden.id);
  });

  it('lists the keys present, across all runs or within experiments', async () => {
    expect(await store.runColumns()).toEqual({ params: ['layers', 'lr', 'optimizer', 'secret'], metrics: ['acc', 'perplexity'], tags: ['owner', 'team'] });
    expect(await store.runColumns({ experimentIds: [vision.id] })).toEqual({ params: ['lr', 'optimizer'], metrics: ['acc'], tags: ['team'] });
    expect(await store.runColumns({ experimentIds: ['nlp'] })).toEqual({ params: ['layers'], metrics: ['acc', 'perplexity'], tags: ['owner'] });
    await expect(store.runColumns({ experimentIds: ['missing'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('counts what a search lists', async () => {
    expect(await store.countRuns()).toBe(7);
    expect(await store.countRuns({ experimentIds: [vision.id] })).toBe(4);
    expect(await store.countRuns({ filter: "metrics.acc > 0.4 AND status != 'running'" })).toBe(2);
    await expect(store.countRuns({ filter: 'metrics.acc >' })).rejects.toMatchObject({ code: 'FILTER_SYNTAX' });
    await store.updateExperiment(nlp.id, { archived: true });
    try {
      expect(await store.countRuns()).toBe(5);
      expect(await store.countRuns({ includeArchived: true })).toBe(7);
    } finally {
      await store.updateExperiment(nlp.id, { archived: false });
    }
  });

  it("groups a parent's children by status", async () => {
    const parent = await store.createRun({ experimentId: nlp.id, name: 'sweep' });
    for (let i = 0; i < 3; i++) {
      const child = await store.createRun({ experimentId: nlp.id, parentRunId: parent.id, status: 'queued' });
      if (i > 0) await store.endRun(child.id, i === 1 ? 'finished' : 'cancelled');
    }
    const counts = await store.childRunCounts([parent.id, runs[0]!.id]);
    expect(counts).toEqual({ [parent.id]: { queued: 1, finished: 1, cancelled: 1 }, [runs[0]!.id]: {} });
    await store.deleteRun(parent.id).catch(() => undefined);
  });

  it("finds each experiment's best ended run on its objective, skipping NaN and runs in flight", async () => {
    const best = await store.bestRuns([
      { experimentId: vision.id, metric: 'acc', direction: 'maximize' },
      { experimentId: nlp.id, metric: 'perplexity', direction: 'minimize' },
      { experimentId: other.id, metric: 'acc', direction: 'maximize' },
      { experimentId: vision.id, metric: 'missing', direction: 'minimize' },
    ]);
    expect(best).toEqual(
      expect.arrayContaining([
        { experimentId: vision.id, metric: 'acc', direction: 'maximize', runId: runs[1]!.id, value: 0.9 },
        { experimentId: nlp.id, metric: 'perplexity', direction: 'minimize', runId: runs[5]!.id, value: 5 },
      ]),
    );
    expect(best).toHaveLength(2);
    const low = await store.bestRuns([{ experimentId: vision.id, metric: 'acc', direction: 'minimize' }]);
    expect(low[0]).toMatchObject({ runId: runs[0]!.id, value: 0.5 });
  });

  it('names the projects that own runs, experiments, datasets, snapshots, models, versions, deployments and code', async () => {
    const [def, elsewhere] = await Promise.all([store.ensureProject('default'), store.ensureProject('elsewhere')]);
    expect(await store.projectsOf('run', [runs[0]!.id, 'junk'])).toEqual({ [runs[0]!.id]: [def.id] });
    expect(await store.projectsOf('experiment', [vision.id, other.id])).toEqual({ [vision.id]: [def.id], [other.id]: [elsewhere.id] });
    await store.recordSnapshot({ dataset: 'iris', id: hash('a'), fileCount: 1, bytes: 10 });
    await store.recordSnapshot({ project: 'elsewhere', dataset: 'iris', id: hash('a'), fileCount: 1, bytes: 10 });
    expect((await store.projectsOf('snapshot', [hash('a')]))[hash('a')]!.sort()).toEqual([def.id, elsewhere.id].sort());
    const v = await store.registerModelVersion({ project: 'elsewhere', name: 'm', artifactHash: hash('b'), runId: runs[0]!.id });
    const d = await store.recordDeployment({ modelVersionId: v.id, environment: 'prod', host: 'h1' });
    expect(await store.projectsOf('model_version', [v.id])).toEqual({ [v.id]: [elsewhere.id] });
    expect(await store.projectsOf('model', [v.modelId])).toEqual({ [v.modelId]: [elsewhere.id] });
    expect(await store.projectsOf('deployment', [d.id])).toEqual({ [d.id]: [elsewhere.id] });
    const ds = await store.getDataset('iris');
    expect(await store.projectsOf('dataset', [ds.id])).toEqual({ [ds.id]: [def.id] });
    expect(await store.projectsOf('code', [hash('0')])).toEqual({ [hash('0')]: [def.id] });
    expect(await store.projectsOf('project', [def.id])).toEqual({ [def.id]: [def.id] });
  });

  it('describes lineage nodes of every kind in a few queries', async () => {
    const v = (await store.getModel('m', 'elsewhere')).versions[0]!;
    const [d] = await store.listDeploymentsOf([v.id]);
    const ds = await store.getDataset('iris');
    const facts = await store.describeLineageNodes([
      { kind: 'run', id: runs[1]!.id },
      { kind: 'snapshot', id: hash('a') },
      { kind: 'model_version', id: v.id },
      { kind: 'deployment', id: d!.id },
      { kind: 'code', id: hash('1') },
      { kind: 'dataset', id: ds.id },
      { kind: 'model', id: v.modelId },
      { kind: 'run', id: 'not-a-uuid' },
    ]);
    const by = (kind: string) => facts.find((f) => f.kind === kind);
    expect(facts).toHaveLength(7);
    expect(by('run')).toMatchObject({ name: 'r1', status: 'abandoned', experiment: 'vision', gitSha: 'sha1' });
    expect(by('snapshot')?.datasets).toEqual(['iris']);
    expect(by('snapshot')?.projectIds).toHaveLength(2);
    expect(by('model_version')).toMatchObject({ model: 'm', version: 1 });
    expect(by('deployment')).toMatchObject({ environment: 'prod', host: 'h1', model: 'm', version: 1, stoppedAt: null });
    expect(by('code')).toMatchObject({ gitSha: 'sha5' });
    expect(by('dataset')).toMatchObject({ name: 'iris' });
    expect(by('model')).toMatchObject({ name: 'm' });
  });

  it('reads snapshot rows by id and the newest snapshot of each dataset', async () => {
    await store.recordSnapshot({ dataset: 'digits', id: hash('c'), fileCount: 3, bytes: 30 });
    await store.recordSnapshot({ dataset: 'digits', id: hash('d'), fileCount: 4, bytes: 40, profile: { files: 4 } });
    const rows = await store.getSnapshots([hash('a'), hash('d'), 'short']);
    expect(rows.map((r) => [r.id, r.dataset]).sort()).toEqual([
      [hash('a'), 'iris'],
      [hash('a'), 'iris'],
      [hash('d'), 'digits'],
    ]);
    const latest = await store.latestSnapshots();
    const digits = latest.find((s) => s.dataset === 'digits');
    expect(digits).toMatchObject({ id: hash('d'), fileCount: 4, bytes: 40, profile: { files: 4 }, parentId: hash('c') });
    const ds = await store.getDataset('digits');
    expect((await store.latestSnapshots([ds.id])).map((s) => s.id)).toEqual([hash('d')]);
    expect(await store.latestSnapshots([])).toEqual([]);
  });
});
