import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilterSyntaxError } from '@cairn/schema';
import type { Experiment, Run, Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { callerFor, trpcError } from './test-support.ts';

const hash = (c: string) => c.repeat(64);

/** Experiments and runs through the router (createCaller), on each driver with one seeded store. */
describe.each(testDrivers())('experiments and runs on $name', (driver) => {
  let store: Store;
  let api: ReturnType<typeof callerFor>;
  let mnist: Experiment;
  let iris: Experiment;
  let old: Experiment;
  const runs: Run[] = [];
  let long: Run;

  beforeAll(async () => {
    store = await driver.open();
    api = callerFor(store);
    mnist = await store.ensureExperiment({ name: 'mnist', description: 'digits' });
    iris = await store.ensureExperiment({ name: 'iris' });
    old = await store.ensureExperiment({ name: 'old' });
    await store.setExperimentTags(mnist.id, { objective: 'val_acc' });
    await store.setExperimentTags(iris.id, { objective: 'loss min' });
    for (let i = 0; i < 12; i++) {
      const run = await store.createRun({
        experimentId: mnist.id,
        name: `m${String(i).padStart(2, '0')}`,
        tier: i % 2 ? 'ci' : null,
        params: { lr: (i + 1) / 1000, optimizer: i % 3 ? 'adam' : 'sgd', layers: 2 + (i % 2), augment: i % 2 === 0 },
        tags: { team: i % 2 ? 'vision' : 'ml' },
        code: { gitSha: 'abc123', gitDirty: false, codeHash: hash('c') },
      });
      const final = i === 7 ? Number.NaN : 0.5 + i / 40;
      await store.logMetrics(run.id, [
        { key: 'val_acc', value: 0.3, step: 0 },
        { key: 'val_acc', value: final, step: 1 },
        { key: 'loss', value: 1 / (i + 1), step: 1 },
      ]);
      if (i < 10) await store.endRun(run.id, i === 3 ? 'failed' : i === 5 ? 'abandoned' : 'finished', i === 3 ? 'OOM' : null);
      runs.push(run);
    }
    const irisRun = await store.createRun({ experimentId: iris.id, name: 'i0', params: { hidden: 8 } });
    await store.logMetrics(irisRun.id, [{ key: 'loss', value: 0.25, step: 3 }]);
    await store.endRun(irisRun.id, 'finished');
    await store.createRun({ experimentId: old.id, name: 'ancient' });
    await store.updateExperiment(old.id, { archived: true });
    long = await store.createRun({ experimentId: iris.id, name: 'long', params: { hidden: 16 } });
    await store.logMetrics(long.id, Array.from({ length: 5000 }, (_, step) => ({ key: 'loss', value: Math.sin(step / 50) + (step === 2500 ? 10 : 0), step })));
    await store.logArtifact(long.id, { path: 'model/model.json', hash: hash('a'), size: 120, mediaType: 'application/json' });
  });
  afterAll(() => driver.cleanup());

  it('answers system.info and lists projects', async () => {
    expect(await api.system.info()).toEqual({ mode: 'local', userId: null, storeDriver: driver.name, queues: false, version: expect.any(String) });
    expect((await api.projects.list()).map((p) => p.name)).toEqual(['default']);
  });

  it('lists experiments with status counts, last activity and the best run on their objective', async () => {
    const list = await api.experiments.list();
    expect(list.map((e) => e.name)).toEqual(['iris', 'mnist']);
    const m = list.find((e) => e.name === 'mnist')!;
    expect(m).toMatchObject({ project: 'default', description: 'digits', archived: false, runCount: 12, objective: { metric: 'val_acc', direction: 'maximize' } });
    expect(m.statusCounts).toEqual({ finished: 8, failed: 1, abandoned: 1, running: 2 });
    expect(m.lastActivity).toBeInstanceOf(Date);
    // Run 9 has the highest val_acc among ended runs (10 and 11 are still running; 7 is NaN).
    expect(m.best).toEqual({ metric: 'val_acc', value: 0.5 + 9 / 40, runId: runs[9]!.id });
    expect(list.find((e) => e.name === 'iris')!.best).toMatchObject({ metric: 'loss', value: 0.25 });
    const all = await api.experiments.list({ includeArchived: true });
    expect(all.find((e) => e.name === 'old')).toMatchObject({ archived: true, runCount: 1, best: null, objective: null });
    expect((await api.experiments.list({ project: 'default' })).length).toBe(2);
    const e = await trpcError(api.experiments.list({ project: 'nope' }));
    expect([e.code, e.message]).toEqual(['NOT_FOUND', "project 'nope' not found"]);
  });

  it('gets an experiment by id or name, with notes, and adds notes', async () => {
    const note = await api.experiments.addNote({ experimentId: mnist.id, body: '## Tried\nbigger batches: **worse**' });
    expect(note).toMatchObject({ targetKind: 'experiment', targetId: mnist.id, author: null });
    const byId = await api.experiments.get({ id: mnist.id });
    const byName = await api.experiments.get({ id: 'mnist' });
    expect(byName.id).toBe(byId.id);
    expect(byId).toMatchObject({ name: 'mnist', runCount: 12, tags: { objective: 'val_acc' }, best: { runId: runs[9]!.id } });
    expect(byId.notes.map((n) => n.body)).toEqual([note.body]);
    const missing = await trpcError(api.experiments.get({ id: 'nope' }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "experiment 'nope' not found"]);
    const bad = await trpcError(api.experiments.addNote({ experimentId: mnist.id, body: '' }));
    expect([bad.code, bad.message]).toEqual(['BAD_REQUEST', 'invalid input: body: a note needs some text']);
  });

  it('searches runs newest first as compact rows, page by page with a cursor', async () => {
    const first = await api.runs.search({ experimentIds: [mnist.id], limit: 5, withTotal: true });
    expect(first.total).toBe(12);
    expect(first.runs.map((r) => r.name)).toEqual(['m11', 'm10', 'm09', 'm08', 'm07']);
    const row = first.runs.find((r) => r.name === 'm08')!;
    expect(row).toEqual({
      id: runs[8]!.id,
      name: 'm08',
      experimentId: mnist.id,
      experimentName: 'mnist',
      status: 'finished',
      statusReason: null,
      tier: null,
      parentRunId: null,
      createdAt: expect.any(Date),
      startedAt: expect.any(Date),
      endedAt: expect.any(Date),
      params: { lr: 0.009, optimizer: 'adam', layers: 2, augment: true },
      metrics: { val_acc: { last: 0.7, min: 0.3, max: 0.7, count: 2, step: 1 }, loss: { last: 1 / 9, min: 1 / 9, max: 1 / 9, count: 1, step: 1 } },
      tags: { team: 'ml' },
    });
    expect(first.runs.find((r) => r.name === 'm07')!.metrics.val_acc!.last).toBeNaN();
    const seen = [...first.runs];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await api.runs.search({ experimentIds: ['mnist'], limit: 5, cursor });
      expect(page.total).toBeUndefined();
      seen.push(...page.runs);
      cursor = page.nextCursor;
    }
    expect(seen.map((r) => r.name)).toEqual(runs.map((r) => r.name).reverse());
    // Every experiment but the archived one, unless it is named.
    expect((await api.runs.search({})).runs).toHaveLength(14);
    expect((await api.runs.search({ experimentIds: ['old'] })).runs.map((r) => r.name)).toEqual(['ancient']);
  });

  it('filters and sorts with the filter language', async () => {
    const page = await api.runs.search({ filter: "params.optimizer = 'adam' AND metrics.val_acc >= 0.6", orderBy: ['metrics.val_acc desc'], withTotal: true });
    expect(page.runs.map((r) => r.name)).toEqual(['m11', 'm10', 'm08', 'm05', 'm04']);
    expect(page.total).toBe(5);
    const failed = await api.runs.search({ filter: "status = 'failed'" });
    expect(failed.runs.map((r) => [r.name, r.statusReason])).toEqual([['m03', 'OOM']]);
  });

  it('answers a filter that does not parse with BAD_REQUEST and its position', async () => {
    const e = await trpcError(api.runs.search({ filter: 'metrics.val_acc >= AND' }));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toMatch(/^filter syntax error at column \d+/);
    expect(e.cause).toBeInstanceOf(FilterSyntaxError);
    expect((e.cause as FilterSyntaxError).column).toBe(20);
    const cursor = await trpcError(api.runs.search({ cursor: 'garbage' }));
    expect([cursor.code, cursor.message]).toEqual(['BAD_REQUEST', 'invalid cursor: pass back the nextCursor of a search with the same sort']);
  });

  it('refuses bad input with BAD_REQUEST naming the field', async () => {
    const limit = await trpcError(api.runs.search({ limit: 501 }));
    expect(limit.code).toBe('BAD_REQUEST');
    expect(limit.message).toBe('invalid input: limit: Too big: expected number to be <=500');
    const shape = await trpcError(api.runs.get({ id: 42 as unknown as string }));
    expect(shape.message).toBe('invalid input: id: Invalid input: expected string, received number');
    const keys = await trpcError(api.runs.series({ runId: long.id, keys: [] }));
    expect(keys.message).toBe('invalid input: keys: name at least one metric');
    const notHex = await trpcError(api.runs.get({ id: 'zzzz-not-an-id' }));
    expect([notHex.code, notHex.message]).toEqual(['BAD_REQUEST', "invalid run id 'zzzz-not-an-id': give a UUID or at least 4 of its leading hex digits"]);
  });

  it('lists the columns present, over all runs or an experiment', async () => {
    expect(await api.runs.columns()).toEqual({ params: ['augment', 'hidden', 'layers', 'lr', 'optimizer'], metrics: ['loss', 'val_acc'], tags: ['team'] });
    expect(await api.runs.columns({ experimentIds: [iris.id] })).toEqual({ params: ['hidden'], metrics: ['loss'], tags: [] });
  });

  it('gets a run by id prefix with notes, artifacts, environment and code', async () => {
    await api.runs.addNote({ runId: long.id, body: 'diverged at step 2500' });
    const view = await api.runs.get({ id: long.id.slice(0, 24) });
    expect(view).toMatchObject({
      id: long.id,
      name: 'long',
      experimentName: 'iris',
      status: 'running',
      code: { gitSha: null, gitDirty: null, codeHash: null },
      snapshotIds: [],
      attempts: 1,
      pipeline: { gates: [], champion: [], sweep: null, trial: null },
      summaries: { loss: { count: 5000, lastStep: 4999 } },
    });
    expect(view.notes.map((n) => n.body)).toEqual(['diverged at step 2500']);
    expect(view.artifacts).toEqual([expect.objectContaining({ path: 'model/model.json', size: 120 })]);
    expect((await api.runs.get({ id: runs[0]!.id })).code).toEqual({ gitSha: 'abc123', gitDirty: false, codeHash: hash('c') });
    const missing = await trpcError(api.runs.get({ id: '0190aaaa-0000-7000-8000-000000000000' }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "run '0190aaaa-0000-7000-8000-000000000000' not found"]);
  });

  it('serves series downsampled on the server, spikes kept', async () => {
    const out = await api.runs.series({ runId: long.id, keys: ['loss', 'nothing'], maxPoints: 500 });
    expect(out.loss!.total).toBe(5000);
    expect(out.loss!.steps.length).toBeLessThanOrEqual(500);
    expect(out.loss!.values.length).toBe(out.loss!.steps.length);
    expect(out.loss!.times.length).toBe(out.loss!.steps.length);
    expect(out.loss!.method).toBe('lttb');
    expect(Math.max(...out.loss!.values)).toBeGreaterThan(9);
    expect(out.nothing).toEqual({ steps: [], values: [], times: [], total: 0, method: 'none' });
    const small = await api.runs.series({ runId: runs[0]!.id, keys: ['val_acc'] });
    expect(small.val_acc).toMatchObject({ steps: [0, 1], values: [0.3, 0.5], method: 'none' });
    const tooMany = await trpcError(api.runs.series({ runId: long.id, keys: ['loss'], maxPoints: 20_001 }));
    expect(tooMany.code).toBe('BAD_REQUEST');
  });

  it('compares runs: rows, series and which params differ', async () => {
    const cmp = await api.runs.compare({ runIds: [runs[0]!.id, runs[1]!.id.slice(0, 24), long.id], keys: ['val_acc', 'loss'], maxPoints: 100 });
    expect(cmp.runs.map((r) => r.name)).toEqual(['m00', 'm01', 'long']);
    expect(cmp.series[runs[0]!.id]).toEqual({ val_acc: { steps: [0, 1], values: [0.3, 0.5] }, loss: { steps: [1], values: [1] } });
    expect(cmp.series[long.id]!.loss!.steps.length).toBeLessThanOrEqual(100);
    expect(cmp.series[long.id]!.val_acc).toBeUndefined();
    const byKey = Object.fromEntries(cmp.paramDiff.map((d) => [d.key, d]));
    expect(byKey.optimizer).toEqual({ key: 'optimizer', values: { [runs[0]!.id]: 'sgd', [runs[1]!.id]: 'adam', [long.id]: null }, differs: true });
    expect(Object.keys(byKey)).toEqual(['augment', 'hidden', 'layers', 'lr', 'optimizer']);
    const same = await api.runs.compare({ runIds: [runs[0]!.id, runs[6]!.id] });
    expect(same.paramDiff.find((d) => d.key === 'optimizer')!.differs).toBe(false);
    expect(same.series).toEqual({ [runs[0]!.id]: {}, [runs[6]!.id]: {} });
    const missing = await trpcError(api.runs.compare({ runIds: [runs[0]!.id, '0190aaaa-0000-7000-8000-000000000000'] }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "run '0190aaaa-0000-7000-8000-000000000000' not found"]);
    const none = await trpcError(api.runs.compare({ runIds: [] }));
    expect(none.message).toBe('invalid input: runIds: compare at least one run');
  });

  it("compares with keys 'all': every metric the runs have in one request, the rest named when they do not fit", async () => {
    const all = await api.runs.compare({ runIds: [runs[0]!.id, long.id], keys: 'all', maxPoints: 100 });
    expect(all.keys).toEqual(['loss', 'val_acc']);
    expect(all.moreKeys).toEqual([]);
    expect(all.series[runs[0]!.id]).toEqual({ val_acc: { steps: [0, 1], values: [0.3, 0.5] }, loss: { steps: [1], values: [1] } });
    // The spike at step 2500 of the long run survives downsampling to 100 points.
    expect(all.series[long.id]!.loss!.values).toContain(Math.sin(2500 / 50) + 10);
    expect(all.series[long.id]!.loss!.steps.length).toBeLessThanOrEqual(100);
    // 100 runs' worth of series does not fit: runs × keys stays within 1,000, the model's metrics first.
    const exp = await store.ensureExperiment({ name: 'wide' });
    const wide = await store.createRun({ experimentId: exp.id, name: 'wide' });
    const keys = [...Array.from({ length: 55 }, (_, i) => `m${String(i).padStart(2, '0')}`), 'system/cpu'];
    await store.logMetrics(wide.id, keys.map((key, step) => ({ key, value: step, step })));
    const capped = await api.runs.compare({ runIds: [wide.id], keys: 'all' });
    expect(capped.keys).toHaveLength(50);
    expect(capped.keys[0]).toBe('m00');
    expect(capped.moreKeys).toEqual(['m50', 'm51', 'm52', 'm53', 'm54', 'system/cpu']);
    expect(Object.keys(capped.series[wide.id]!).sort()).toEqual(capped.keys);
  });

  it('adds notes and sets and deletes tags', async () => {
    const note = await api.runs.addNote({ runId: runs[2]!.id, body: 'lr too low' });
    expect(note).toMatchObject({ targetKind: 'run', targetId: runs[2]!.id, body: 'lr too low' });
    expect(await api.runs.setTags({ runId: runs[2]!.id, tags: { verdict: 'keep', team: 'nlp' } })).toEqual({ runId: runs[2]!.id, tags: { team: 'nlp', verdict: 'keep' } });
    expect(await api.runs.deleteTag({ runId: runs[2]!.id, key: 'verdict' })).toEqual({ runId: runs[2]!.id, tags: { team: 'nlp' } });
    const badKey = await trpcError(api.runs.setTags({ runId: runs[2]!.id, tags: { ' padded': 'x' } }));
    expect([badKey.code, badKey.message]).toEqual(['BAD_REQUEST', "invalid tags:  padded: Invalid key in record"]);
    const missing = await trpcError(api.runs.addNote({ runId: 'abcdef12', body: 'x' }));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "run 'abcdef12' not found"]);
  });
});
