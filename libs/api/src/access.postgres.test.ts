import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset, Deployment, Experiment, Project, Run, Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { canAccess, LOCAL_VIEWER } from './access.ts';
import { callerFor, teamViewer, trpcError } from './test-support.ts';

const hash = (c: string) => c.repeat(64);
const ABSENT = '0190aaaa-0000-7000-8000-000000000000';

describe('roles', () => {
  it('rank viewer < editor < admin, and local mode allows everything', () => {
    const v = teamViewer('ana', { p1: 'viewer', p2: 'editor', p3: 'admin' });
    expect([canAccess(v, 'p1', 'read'), canAccess(v, 'p1', 'write'), canAccess(v, 'p2', 'write'), canAccess(v, 'p2', 'admin'), canAccess(v, 'p3', 'admin')]).toEqual([true, false, true, false, true]);
    expect(canAccess(v, 'p4', 'read')).toBe(false);
    expect(canAccess(LOCAL_VIEWER, 'anything', 'admin')).toBe(true);
  });
});

/**
 * Team mode: a user who may read project alpha, edit gamma and not see beta. Whatever
 * they ask about beta answers exactly as if it did not exist.
 */
describe.each(testDrivers())('team-mode access on $name', (driver) => {
  let store: Store;
  let ana: ReturnType<typeof callerFor>;
  let alpha: Project;
  let beta: Project;
  let gamma: Project;
  let expA: Experiment;
  let expB: Experiment;
  let expG: Experiment;
  let runA: Run;
  let runB: Run;
  let runG: Run;
  let dataB: Dataset;
  let depB: Deployment;

  beforeAll(async () => {
    store = await driver.open();
    [alpha, beta, gamma] = (await Promise.all(['alpha', 'beta', 'gamma'].map((p) => store.ensureProject(p)))) as [Project, Project, Project];
    expA = await store.ensureExperiment({ project: 'alpha', name: 'shared-name' });
    expB = await store.ensureExperiment({ project: 'beta', name: 'secret' });
    expG = await store.ensureExperiment({ project: 'gamma', name: 'tuning' });
    await store.recordSnapshot({ project: 'alpha', dataset: 'pub', id: hash('a'), fileCount: 1, bytes: 1 });
    await store.recordSnapshot({ project: 'beta', dataset: 'private', id: hash('b'), fileCount: 1, bytes: 1 });
    await store.recordSnapshot({ project: 'beta', dataset: 'private', id: hash('a'), fileCount: 1, bytes: 1 });
    dataB = await store.getDataset('private', 'beta');
    runA = await store.createRun({ experimentId: expA.id, name: 'a-run', params: { lr: 0.1 }, snapshotIds: [hash('a')] });
    runB = await store.createRun({ experimentId: expB.id, name: 'b-run', params: { secret: 'x' }, snapshotIds: [hash('a')] });
    runG = await store.createRun({ experimentId: expG.id, name: 'g-run' });
    for (const r of [runA, runB, runG]) await store.logMetrics(r.id, [{ key: 'acc', value: 0.5, step: 0 }]);
    await store.registerModelVersion({ project: 'alpha', name: 'm', artifactHash: hash('c'), runId: runA.id });
    const vB = await store.registerModelVersion({ project: 'beta', name: 'm', artifactHash: hash('d'), runId: runB.id });
    depB = await store.recordDeployment({ modelVersionId: vB.id, environment: 'prod', host: 'h' });
    // A sweep in beta (sweeps.list needs no queue), and a gate verdict on beta's run.
    const spec = { version: 1, space: { lr: { type: 'uniform', min: 0, max: 1 } }, strategy: { kind: 'random' }, seed: 1, maxTrials: 2, parallel: 1, objective: { metric: 'acc', direction: 'maximize' }, policies: [], prefix: 'cairn', job: {} };
    await store.createSweep({ run: { experimentId: expB.id, name: 'sweep-b' }, sweep: { strategy: 'random', spec, objective: { metric: 'acc', direction: 'maximize' }, prefix: 'cairn', maxTrials: 2, parallel: 1 } });
    await store.recordGateResult({ runId: runB.id, tier: 'ci', passed: true, expression: "status = 'running'", values: { status: 'running' }, missing: [] });
    ana = callerFor(store, { viewer: teamViewer('ana', { [alpha.id]: 'viewer', [gamma.id]: 'editor' }) });
  });
  afterAll(() => driver.cleanup());

  /** The error for `call` on beta's object, and for the same call on one that does not exist, are the same but for the id. */
  async function sameAsMissing(denied: Promise<unknown>, missing: Promise<unknown>, id: string, absent: string): Promise<void> {
    const [d, m] = await Promise.all([trpcError(denied), trpcError(missing)]);
    expect(d.code).toBe('NOT_FOUND');
    expect(m.code).toBe('NOT_FOUND');
    expect(d.message.replace(id, '<id>')).toBe(m.message.replace(absent, '<id>'));
    expect(d.message).toContain(id);
  }

  it('says who is asking, and lists only readable projects, experiments, datasets, models and sweeps', async () => {
    expect(await ana.system.info()).toMatchObject({ mode: 'team', userId: 'ana' });
    expect((await ana.projects.list()).map((p) => p.name)).toEqual(['alpha', 'gamma']);
    expect((await ana.experiments.list()).map((e) => `${e.project}/${e.name}`)).toEqual(['alpha/shared-name', 'gamma/tuning']);
    expect((await ana.datasets.list()).map((d) => d.name)).toEqual(['pub']);
    expect((await ana.models.list()).map((m) => `${m.project}/${m.name}`)).toEqual(['alpha/m']);
    expect(await ana.sweeps.list()).toEqual([]);
    expect(await ana.runs.gates()).toEqual([]);
    expect((await ana.runs.search({})).runs.map((r) => r.name).sort()).toEqual(['a-run', 'g-run']);
    expect(await ana.runs.columns()).toEqual({ params: ['lr'], metrics: ['acc'], tags: [] });
    await sameAsMissing(ana.experiments.list({ project: 'beta' }), ana.experiments.list({ project: 'nope' }), 'beta', 'nope');
    await sameAsMissing(ana.models.list({ project: 'beta' }), ana.models.list({ project: 'nope' }), 'beta', 'nope');
    await sameAsMissing(ana.datasets.list({ project: 'beta' }), ana.datasets.list({ project: 'nope' }), 'beta', 'nope');
  });

  it("answers another project's run exactly as a missing one, by id or prefix, for every run procedure", async () => {
    const prefix = runB.id.slice(0, 24);
    await sameAsMissing(ana.runs.get({ id: runB.id }), ana.runs.get({ id: ABSENT }), runB.id, ABSENT);
    await sameAsMissing(ana.runs.get({ id: prefix }), ana.runs.get({ id: 'abcdef123456' }), prefix, 'abcdef123456');
    await sameAsMissing(ana.runs.series({ runId: runB.id, keys: ['acc'] }), ana.runs.series({ runId: ABSENT, keys: ['acc'] }), runB.id, ABSENT);
    await sameAsMissing(ana.runs.compare({ runIds: [runA.id, prefix] }), ana.runs.compare({ runIds: [runA.id, 'abcdef123456'] }), prefix, 'abcdef123456');
    await sameAsMissing(ana.runs.addNote({ runId: runB.id, body: 'x' }), ana.runs.addNote({ runId: ABSENT, body: 'x' }), runB.id, ABSENT);
    await sameAsMissing(ana.runs.setTags({ runId: runB.id, tags: { a: 'b' } }), ana.runs.setTags({ runId: ABSENT, tags: { a: 'b' } }), runB.id, ABSENT);
    await sameAsMissing(ana.runs.deleteTag({ runId: runB.id, key: 'a' }), ana.runs.deleteTag({ runId: ABSENT, key: 'a' }), runB.id, ABSENT);
    await sameAsMissing(ana.sweeps.leaderboard({ sweepId: runB.id }), ana.sweeps.leaderboard({ sweepId: ABSENT }), runB.id, ABSENT);
    await sameAsMissing(ana.runs.search({ experimentIds: [expB.id] }), ana.runs.search({ experimentIds: [ABSENT] }), expB.id, ABSENT);
    await sameAsMissing(ana.runs.columns({ experimentIds: [expB.id] }), ana.runs.columns({ experimentIds: [ABSENT] }), expB.id, ABSENT);
    // Runs ana cannot see never make a prefix ambiguous for her.
    const solo = callerFor(store, { viewer: teamViewer('solo', { [alpha.id]: 'viewer' }) });
    expect((await solo.runs.get({ id: runA.id.slice(0, 8) })).id).toBe(runA.id);
    // Nothing was written.
    expect((await store.getRun(runB.id)).tags).toEqual({});
    expect(await store.listNotes({ kind: 'run', id: runB.id })).toEqual([]);
  });

  it("answers another project's experiment, dataset, snapshot, model and lineage node as missing ones", async () => {
    await sameAsMissing(ana.experiments.get({ id: expB.id }), ana.experiments.get({ id: ABSENT }), expB.id, ABSENT);
    await sameAsMissing(ana.experiments.get({ id: 'secret', project: 'beta' }), ana.experiments.get({ id: 'nope', project: 'beta' }), 'secret', 'nope');
    await sameAsMissing(ana.experiments.addNote({ experimentId: expB.id, body: 'x' }), ana.experiments.addNote({ experimentId: ABSENT, body: 'x' }), expB.id, ABSENT);
    await sameAsMissing(ana.datasets.snapshots({ dataset: dataB.id }), ana.datasets.snapshots({ dataset: ABSENT }), dataB.id, ABSENT);
    await sameAsMissing(ana.datasets.snapshots({ dataset: 'private', project: 'beta' }), ana.datasets.snapshots({ dataset: 'nope', project: 'beta' }), 'private', 'nope');
    await sameAsMissing(ana.datasets.diff({ a: hash('a'), b: hash('b') }), ana.datasets.diff({ a: hash('a'), b: hash('f') }), hash('b'), hash('f'));
    await sameAsMissing(ana.datasets.drift({ a: hash('b'), b: hash('a') }), ana.datasets.drift({ a: hash('f'), b: hash('a') }), hash('b'), hash('f'));
    await sameAsMissing(ana.models.get({ name: 'm', project: 'beta' }), ana.models.get({ name: 'nope', project: 'beta' }), "'m'", "'nope'");
    await sameAsMissing(ana.lineage.graph({ node: { kind: 'deployment', id: depB.id } }), ana.lineage.graph({ node: { kind: 'deployment', id: ABSENT } }), depB.id, ABSENT);
    await sameAsMissing(ana.lineage.graph({ node: { kind: 'run', id: runB.id } }), ana.lineage.graph({ node: { kind: 'run', id: ABSENT } }), runB.id, ABSENT);
    await sameAsMissing(ana.lineage.graph({ node: { kind: 'dataset', id: dataB.id } }), ana.lineage.graph({ node: { kind: 'dataset', id: ABSENT } }), dataB.id, ABSENT);
  });

  it('shows what is readable of a shared snapshot and leaves the rest out of a lineage graph', async () => {
    // hash('a') is recorded in alpha and beta: readable through alpha, and its beta run is hidden.
    const snaps = await ana.datasets.drift({ a: hash('a'), b: hash('a') });
    expect(snaps.missing).toEqual([hash('a')]);
    const g = await ana.lineage.graph({ node: { kind: 'snapshot', id: hash('a') }, direction: 'both' });
    expect(g.nodes.filter((n) => n.kind === 'run').map((n) => n.label)).toEqual(['a-run']);
    expect(g.nodes.filter((n) => n.kind === 'dataset').map((n) => n.label)).toEqual(['pub']);
    expect(g.nodes.some((n) => n.label.includes('b-run') || n.label === 'private' || n.key.includes(depB.id))).toBe(false);
    for (const e of g.edges) expect(g.nodes.some((n) => n.key === e.from) && g.nodes.some((n) => n.key === e.to)).toBe(true);
  });

  it('lets a viewer read but not write, and an editor write with their name on notes', async () => {
    expect((await ana.runs.get({ id: runA.id })).name).toBe('a-run');
    expect((await ana.experiments.get({ id: expA.id })).name).toBe('shared-name');
    await sameAsMissing(ana.runs.addNote({ runId: runA.id, body: 'x' }), ana.runs.addNote({ runId: ABSENT, body: 'x' }), runA.id, ABSENT);
    await sameAsMissing(ana.experiments.addNote({ experimentId: expA.id, body: 'x' }), ana.experiments.addNote({ experimentId: ABSENT, body: 'x' }), expA.id, ABSENT);
    expect(await ana.runs.addNote({ runId: runG.id, body: 'from ana' })).toMatchObject({ author: 'ana' });
    expect((await ana.runs.setTags({ runId: runG.id, tags: { reviewed: 'yes' } })).tags).toEqual({ reviewed: 'yes' });
    expect(await ana.experiments.addNote({ experimentId: expG.id, body: 'plan' })).toMatchObject({ author: 'ana' });
    const admin = callerFor(store, { viewer: teamViewer('root', { [beta.id]: 'admin' }) });
    expect((await admin.runs.deleteTag({ runId: runB.id, key: 'none' })).runId).toBe(runB.id);
    expect((await admin.sweeps.list()).map((s) => s.name)).toEqual(['sweep-b']);
    expect((await admin.runs.gates()).map((g) => [g.run.id, g.gate.tier])).toEqual([[runB.id, 'ci']]);
  });
});
