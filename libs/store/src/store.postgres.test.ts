import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { testDrivers } from './testing.ts';
import type { Store } from './types.ts';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CairnError);
    return (e as CairnError).code;
  }
  throw new Error('expected a CairnError, but the call succeeded');
}

describe.each(testDrivers())('store on $name', (driver) => {
  let store: Store;
  beforeAll(async () => {
    store = await driver.open();
  });
  afterAll(() => driver.cleanup());

  it('creates projects and experiments, unique by name per project', async () => {
    const e = await store.createExperiment({ name: 'mnist', description: 'digits' });
    expect(e.name).toBe('mnist');
    expect(await code(store.createExperiment({ name: 'mnist' }))).toBe('CONFLICT');
    const again = await store.ensureExperiment({ name: 'mnist' });
    expect(again.id).toBe(e.id);
    const other = await store.createExperiment({ project: 'vision', name: 'mnist' });
    expect(other.id).not.toBe(e.id);
    expect((await store.getExperiment('mnist', 'vision')).id).toBe(other.id);
    expect((await store.getExperiment(e.id)).description).toBe('digits');
    expect(await code(store.getExperiment('nope'))).toBe('NOT_FOUND');
    expect((await store.listProjects()).map((p) => p.name)).toEqual(['default', 'vision']);
  });

  it('archives experiments and hides them from listings', async () => {
    const e = await store.createExperiment({ name: 'old-idea' });
    await store.setExperimentTags(e.id, { owner: 'ana' });
    await store.updateExperiment(e.id, { archived: true });
    const names = (await store.listExperiments()).map((x) => x.name);
    expect(names).not.toContain('old-idea');
    const all = await store.listExperiments({ includeArchived: true });
    const found = all.find((x) => x.name === 'old-idea')!;
    expect(found.archivedAt).toBeInstanceOf(Date);
    expect(found.tags).toEqual({ owner: 'ana' });
  });

  it('runs go through their lifecycle and keep the reason they ended', async () => {
    const exp = await store.ensureExperiment({ name: 'lifecycle' });
    const run = await store.createRun({
      experimentId: exp.id,
      status: 'queued',
      tier: 'ci',
      code: { gitSha: 'abc123', gitDirty: true, codeHash: 'ff'.repeat(16) },
      snapshotIds: ['aa'.repeat(32)],
      params: { lr: 0.01, opt: 'adam' },
      tags: { team: 'vision' },
    });
    expect(run.status).toBe('queued');
    expect(run.name).toMatch(/^[a-z]+-[a-z]+-\d+$/);
    const started = await store.startRun(run.id, { environment: { node: 'v20', tfjsBackend: 'wasm' } });
    expect(started.status).toBe('running');
    expect(started.attempts).toBe(1);
    expect(started.environment.tfjsBackend).toBe('wasm');
    // Facts learnt later merge in; the rest of the environment stays.
    const merged = await store.mergeEnvironment(run.id, { tfjsBackend: 'cpu', tfjsBackendsSkipped: [{ name: 'wasm', reason: 'no Conv2DBackpropFilter' }] });
    expect(merged.environment).toEqual({ node: 'v20', tfjsBackend: 'cpu', tfjsBackendsSkipped: [{ name: 'wasm', reason: 'no Conv2DBackpropFilter' }] });
    expect(await code(store.mergeEnvironment(run.id, [] as never))).toBe('INVALID_INPUT');
    const ended = await store.endRun(run.id, 'abandoned', 'plateau: no improvement in 5 evaluations');
    expect(ended.status).toBe('abandoned');
    expect(ended.endedAt).toBeInstanceOf(Date);
    // Ending the same way again is a retry; another way is refused and changes nothing.
    expect((await store.endRun(run.id, 'abandoned', 'x')).statusReason).toBe('plateau: no improvement in 5 evaluations');
    expect(await code(store.endRun(run.id, 'finished'))).toBe('INVALID_STATE');
    expect(await code(store.startRun(run.id))).toBe('INVALID_STATE');
    const detail = await store.getRun(run.id);
    expect(detail).toMatchObject({
      status: 'abandoned',
      statusReason: 'plateau: no improvement in 5 evaluations',
      tier: 'ci',
      gitSha: 'abc123',
      gitDirty: true,
      snapshotIds: ['aa'.repeat(32)],
      params: { lr: '0.01', opt: 'adam' },
      tags: { team: 'vision' },
    });
  });

  it('resolves unique id prefixes and rejects ambiguous or unknown ones', async () => {
    const exp = await store.ensureExperiment({ name: 'prefixes' });
    const run = await store.createRun({ experimentId: exp.id });
    expect(await store.resolveRunId(run.id.slice(0, 36))).toBe(run.id);
    // UUIDv7 ids share their time prefix; the random tail is unique.
    const other = await store.createRun({ experimentId: exp.id });
    expect(await code(store.resolveRunId(run.id.slice(0, 4)))).toBe(run.id.slice(0, 4) === other.id.slice(0, 4) ? 'INVALID_INPUT' : 'NOT_FOUND');
    expect(await code(store.resolveRunId('zzzz'))).toBe('INVALID_INPUT');
    expect(await code(store.getRun('00000000-0000-7000-8000-000000000000'))).toBe('NOT_FOUND');
    expect(await code(store.getRun('not-a-uuid'))).toBe('INVALID_INPUT');
  });

  it('params are immutable: same value is fine, a different one is refused and nothing changes', async () => {
    const exp = await store.ensureExperiment({ name: 'params' });
    const run = await store.createRun({ experimentId: exp.id });
    await store.logParams(run.id, { lr: 0.1, layers: 3, name: 'mlp', big: 'x'.repeat(64 * 1024) });
    await store.logParams(run.id, { lr: 0.1 });
    expect(await code(store.logParams(run.id, { lr: 0.2, fresh: 'y' }))).toBe('PARAM_CONFLICT');
    const r = await store.getRun(run.id);
    expect(r.params.lr).toBe('0.1');
    expect(r.params.fresh).toBeUndefined();
    expect(await code(store.logParams(run.id, { huge: 'x'.repeat(64 * 1024 + 1) }))).toBe('INVALID_INPUT');
  });

  it.each([
    ['empty', ''],
    ['overlong', 'k'.repeat(251)],
    ['control character', 'a\u0007b'],
    ['newline', 'a\nb'],
  ])('rejects a %s key everywhere and stores nothing', async (_label, key) => {
    const exp = await store.ensureExperiment({ name: 'bad-keys' });
    const run = await store.createRun({ experimentId: exp.id });
    await store.logMetrics(run.id, [{ key: 'ok', value: 1, step: 0 }]);
    expect(await code(store.logParams(run.id, { [key]: 1 }))).toBe('INVALID_INPUT');
    expect(await code(store.setTags(run.id, { [key]: 'v' }))).toBe('INVALID_INPUT');
    expect(await code(store.logMetrics(run.id, [{ key: 'ok', value: 2, step: 1 }, { key, value: 1, step: 0 }]))).toBe('INVALID_INPUT');
    const r = await store.getRun(run.id);
    expect(r.params).toEqual({});
    expect(r.metrics.ok?.count).toBe(1);
  });

  it('rejects metric values that are not numbers, and unknown runs', async () => {
    const exp = await store.ensureExperiment({ name: 'bad-values' });
    const run = await store.createRun({ experimentId: exp.id });
    expect(await code(store.logMetrics(run.id, [{ key: 'loss', value: '0.5' as unknown as number, step: 0 }]))).toBe('INVALID_INPUT');
    expect(await code(store.logMetrics(run.id, [{ key: 'loss', value: 0.5, step: -1 }]))).toBe('INVALID_INPUT');
    expect(await code(store.logMetrics(run.id, [{ key: 'loss', value: 0.5, step: 1.5 }]))).toBe('INVALID_INPUT');
    expect(await code(store.logMetrics('00000000-0000-7000-8000-000000000000', [{ key: 'loss', value: 1, step: 0 }]))).toBe('NOT_FOUND');
    expect(await store.getMetricSummaries(run.id)).toEqual({});
  });

  it('stores NaN and ±Infinity faithfully and keeps NaN out of min/max', async () => {
    const exp = await store.ensureExperiment({ name: 'nan' });
    const run = await store.createRun({ experimentId: exp.id });
    await store.logMetrics(run.id, [
      { key: 'loss', value: 2, step: 0 },
      { key: 'loss', value: Number.POSITIVE_INFINITY, step: 1 },
      { key: 'loss', value: Number.NEGATIVE_INFINITY, step: 2 },
      { key: 'loss', value: Number.NaN, step: 3 },
      { key: 'only-nan', value: Number.NaN, step: 0 },
    ]);
    const series = await store.getMetricSeries(run.id, 'loss');
    expect(series.points.map((p) => p.value)).toEqual([2, Infinity, -Infinity, NaN]);
    const s = await store.getMetricSummaries(run.id);
    expect(s.loss).toMatchObject({ last: NaN, lastStep: 3, min: -Infinity, max: Infinity, count: 4 });
    expect(s['only-nan']).toMatchObject({ last: NaN, min: null, max: null, count: 1 });
  });

  it('logMetrics is idempotent on (run, key, step): a retried batch adds nothing', async () => {
    const exp = await store.ensureExperiment({ name: 'idempotent' });
    const run = await store.createRun({ experimentId: exp.id });
    const batch = Array.from({ length: 500 }, (_, i) => ({ key: i % 2 ? 'acc' : 'loss', value: i / 10, step: Math.floor(i / 2), wallMs: 1_700_000_000_000 + i }));
    expect((await store.logMetrics(run.id, batch)).inserted).toBe(500);
    expect((await store.logMetrics(run.id, batch)).inserted).toBe(0);
    const half = batch.slice(250).map((p) => ({ ...p, value: -1 }));
    expect((await store.logMetrics(run.id, [...half, { key: 'loss', value: 7, step: 1000 }])).inserted).toBe(1);
    const s = await store.getMetricSummaries(run.id);
    expect(s.loss).toMatchObject({ count: 251, last: 7, lastStep: 1000, min: 0, max: 49.8 });
    expect(s.acc).toMatchObject({ count: 250, last: 49.9, lastStep: 249, min: 0.1 });
    // Values already stored are never replaced by a retry carrying other values.
    const series = await store.getMetricSeries(run.id, 'acc', { maxPoints: 1000 });
    expect(series.points.every((p) => p.value >= 0)).toBe(true);
  });

  it('keeps summaries right when batches arrive out of order', async () => {
    const exp = await store.ensureExperiment({ name: 'ooo' });
    const run = await store.createRun({ experimentId: exp.id });
    await store.logMetrics(run.id, [{ key: 'x', value: 10, step: 10 }]);
    await store.logMetrics(run.id, [{ key: 'x', value: 3, step: 3 }]);
    expect((await store.getMetricSummaries(run.id)).x).toMatchObject({ last: 10, lastStep: 10, min: 3, max: 10, count: 2 });
  });

  it('splits large batches into chunks and writes them all', async () => {
    const exp = await store.ensureExperiment({ name: 'bulk' });
    const run = await store.createRun({ experimentId: exp.id });
    const n = 45_000;
    const points = Array.from({ length: n }, (_, i) => ({ key: 'loss', value: Math.sin(i / 100), step: i }));
    expect((await store.logMetrics(run.id, points)).inserted).toBe(n);
    expect((await store.getMetricSummaries(run.id)).loss?.count).toBe(n);
  });

  it('downsamples long series on the server and keeps a spike', async () => {
    const exp = await store.ensureExperiment({ name: 'series' });
    const run = await store.createRun({ experimentId: exp.id });
    const n = 30_000;
    const points = Array.from({ length: n }, (_, i) => ({ key: 'loss', value: i === 12_345 ? 1000 : Math.cos(i / 500), step: i }));
    await store.logMetrics(run.id, points);
    for (const method of ['lttb', 'minmax'] as const) {
      const s = await store.getMetricSeries(run.id, 'loss', { maxPoints: 500, method });
      expect(s.total).toBe(n);
      expect(s.method).toBe(method);
      expect(s.points.length).toBeLessThanOrEqual(500);
      expect(s.points.length).toBeGreaterThan(200);
      expect(s.points.some((p) => p.step === 12_345 && p.value === 1000)).toBe(true);
      expect(s.points[0]!.step).toBe(0);
      expect(s.points[s.points.length - 1]!.step).toBe(n - 1);
      const steps = s.points.map((p) => p.step);
      expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    }
    const empty = await store.getMetricSeries(run.id, 'never-logged');
    expect(empty).toMatchObject({ total: 0, points: [] });
    expect(await code(store.getMetricSeries(run.id, 'loss', { maxPoints: 1 }))).toBe('INVALID_INPUT');
  });

  it('reads long series from rollups that stay exact through retried and out-of-order batches', async () => {
    const exp = await store.ensureExperiment({ name: 'rollups' });
    const run = await store.createRun({ experimentId: exp.id });
    const n = 120_000;
    const value = (i: number) => Math.sin(i / 3000) + (i % 7919 === 0 ? 5 : 0);
    const all = Array.from({ length: n }, (_, i) => ({ key: 'acc', value: value(i), step: i, wallMs: 1_700_000_000_000 + i }));
    // Second half first, then the first half, then a retried overlapping batch with other values
    // (kept out: the first value of a point wins) and a new spike at the very end.
    await store.logMetrics(run.id, all.slice(60_000));
    await store.logMetrics(run.id, all.slice(0, 60_000));
    await store.logMetrics(run.id, [
      ...all.slice(59_000, 61_000).map((p) => ({ ...p, value: 1000 })),
      { key: 'acc', value: -50, step: n, wallMs: 1 },
    ]);
    const raw = new Map(all.map((p) => [p.step, p]));
    raw.set(n, { key: 'acc', value: -50, step: n, wallMs: 1 });
    for (const method of ['lttb', 'minmax'] as const) {
      const s = await store.getMetricSeries(run.id, 'acc', { maxPoints: 300, method });
      expect(s.total).toBe(n + 1);
      expect(s.points.length).toBeLessThanOrEqual(300);
      expect(s.points.length).toBeGreaterThan(150);
      for (const p of s.points) {
        const r = raw.get(p.step)!;
        expect(r, `step ${p.step}`).toBeDefined();
        expect(p.value).toBe(r.value);
        expect(p.wallMs).toBe(r.wallMs);
      }
      expect(s.points.some((p) => p.value === 1000)).toBe(false);
      expect(s.points.some((p) => p.step === 7919 * 5 && p.value === value(7919 * 5))).toBe(true);
      expect(s.points[s.points.length - 1]).toMatchObject({ step: n, value: -50 });
    }
  });

  it('tags are mutable; notes and artifacts attach to runs', async () => {
    const exp = await store.ensureExperiment({ name: 'notes' });
    const run = await store.createRun({ experimentId: exp.id });
    await store.setTags(run.id, { stage: 'draft' });
    await store.setTags(run.id, { stage: 'final', extra: '1' });
    await store.deleteTag(run.id, 'extra');
    expect((await store.getRun(run.id)).tags).toEqual({ stage: 'final' });
    await store.addNote({ kind: 'run', id: run.id }, '# Tried cosine decay\nDiverged after epoch 3.', 'ana');
    await store.addNote({ kind: 'experiment', id: exp.id }, 'Dropping this approach: data too noisy.');
    const notes = await store.listNotes({ kind: 'run', id: run.id });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ body: '# Tried cosine decay\nDiverged after epoch 3.', author: 'ana' });
    expect(await store.listNotes({ kind: 'experiment', id: exp.id })).toHaveLength(1);
    expect(await code(store.addNote({ kind: 'run', id: run.id }, '   '))).toBe('INVALID_INPUT');
    await store.logArtifact(run.id, { path: 'model/model.json', hash: 'ab'.repeat(32), size: 1234, mediaType: 'application/json' });
    await store.logArtifact(run.id, { path: 'model/model.json', hash: 'cd'.repeat(32), size: 99 });
    const arts = await store.listArtifacts(run.id);
    expect(arts).toHaveLength(1);
    expect(arts[0]).toMatchObject({ hash: 'cd'.repeat(32), size: 99 });
    expect(await code(store.logArtifact(run.id, { path: '../etc/passwd', hash: 'ab'.repeat(32), size: 1 }))).toBe('INVALID_INPUT');
    expect(await code(store.logArtifact(run.id, { path: '/abs', hash: 'ab'.repeat(32), size: 1 }))).toBe('INVALID_INPUT');
  });

  it('marks runs whose heartbeat stopped as failed with reason lost', async () => {
    const exp = await store.ensureExperiment({ name: 'heartbeats' });
    const stale = await store.createRun({ experimentId: exp.id });
    const alive = await store.createRun({ experimentId: exp.id });
    // The stale run's last sign of life is set an hour back rather than waited for: with a
    // wait, a loaded machine could also take longer than the timeout between the alive
    // run's heartbeat and the check, and mark it lost too.
    await store.drizzle().execute(sql`UPDATE runs SET heartbeat_at = now() - interval '1 hour', started_at = now() - interval '1 hour', created_at = now() - interval '1 hour' WHERE id = ${stale.id}`);
    await store.heartbeat(alive.id);
    const lost = await store.markLostRuns(10 * 60_000);
    expect(lost).toContain(stale.id);
    expect(lost).not.toContain(alive.id);
    const r = await store.getRun(stale.id);
    expect(r.status).toBe('failed');
    expect(r.statusReason).toMatch(/^lost/);
    expect((await store.getRun(alive.id)).status).toBe('running');
  });

  it('answers lineage queries upstream and downstream to any depth', async () => {
    const snapA = { kind: 'snapshot' as const, id: 'a1'.repeat(32) };
    const snapB = { kind: 'snapshot' as const, id: 'b2'.repeat(32) };
    const code1 = { kind: 'code' as const, id: 'c3'.repeat(32) };
    const run1 = { kind: 'run' as const, id: '0190c7e4-0000-7000-8000-000000000001' };
    const run2 = { kind: 'run' as const, id: '0190c7e4-0000-7000-8000-000000000002' };
    const mv = { kind: 'model_version' as const, id: '0190c7e4-0000-7000-8000-0000000000aa' };
    const dep = { kind: 'deployment' as const, id: '0190c7e4-0000-7000-8000-0000000000dd' };
    await store.addLineageEdge(snapA, snapB, 'parent_of');
    await store.addLineageEdge(snapB, run1, 'input');
    await store.addLineageEdge(code1, run1, 'code');
    await store.addLineageEdge(run1, run2, 'promoted_to');
    await store.addLineageEdge(snapB, run2, 'input');
    await store.addLineageEdge(run2, mv, 'produced');
    await store.addLineageEdge(mv, dep, 'deployed');
    await store.addLineageEdge(mv, dep, 'deployed'); // idempotent

    const up = await store.lineage(dep, { direction: 'upstream' });
    const upIds = up.nodes.map((n) => n.id).sort();
    expect(upIds).toEqual([snapA, snapB, code1, run1, run2, mv, dep].map((n) => n.id).sort());
    expect(up.edges).toHaveLength(7);

    const down = await store.lineage(snapA, { direction: 'downstream' });
    expect(down.nodes.map((n) => n.kind).sort()).toEqual(['deployment', 'model_version', 'run', 'run', 'snapshot', 'snapshot']);

    const shallow = await store.lineage(dep, { direction: 'upstream', depth: 1 });
    expect(shallow.nodes.map((n) => n.kind).sort()).toEqual(['deployment', 'model_version']);

    // A cycle must not hang the walk.
    await store.addLineageEdge(run2, run1, 'retried_as');
    const cyc = await store.lineage(run1, { direction: 'downstream' });
    expect(cyc.nodes.some((n) => n.id === dep.id)).toBe(true);

    expect(await code(store.addLineageEdge(snapA, snapA, 'self'))).toBe('INVALID_INPUT');
    expect(await code(store.addLineageEdge({ kind: 'bogus' as never, id: 'x' }, snapA, 'r'))).toBe('INVALID_INPUT');
  });

  it('deletes a run with everything that hangs off it', async () => {
    const exp = await store.ensureExperiment({ name: 'delete' });
    const run = await store.createRun({ experimentId: exp.id, params: { a: 1 } });
    await store.logMetrics(run.id, [{ key: 'm', value: 1, step: 0 }]);
    await store.deleteRun(run.id);
    expect(await code(store.getRun(run.id))).toBe('NOT_FOUND');
  });
});
