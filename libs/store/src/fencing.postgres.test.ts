import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError } from '@cairn/schema';
import { testDrivers } from './testing.ts';
import type { Store } from './types.ts';

/**
 * Attempts and fencing: every pickup of a run is an attempt; its number is the token a
 * worker's writes carry, and once a newer attempt has taken the run the store refuses
 * the older one's writes, whatever they touch.
 */
describe.each(testDrivers())('attempts and fencing on $name', (driver) => {
  let store: Store;
  beforeAll(async () => {
    store = await driver.open();
  });
  afterAll(() => driver.cleanup());

  async function queuedRun(name = 'fenced'): Promise<string> {
    const exp = await store.ensureExperiment({ name });
    return (await store.createRun({ experimentId: exp.id, status: 'queued', tier: 'ci', params: { lr: 0.1 } })).id;
  }

  async function refused(p: Promise<unknown>): Promise<FencedError> {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(FencedError);
      return e as FencedError;
    }
    throw new Error('expected the write to be refused, but it went through');
  }

  it('each claim is a new attempt, recorded with its worker; the older open one is superseded; an ended run cannot be claimed', async () => {
    const id = await queuedRun();
    const one = await store.claimRun(id, { workerId: 'host:1:aa' });
    expect(one.attempt).toBe(1);
    expect(one.run).toMatchObject({ status: 'running', attempts: 1 });
    await store.fenced({ runId: id, attempt: 1 }).updateAttempt(id, 1, { resumedFromStep: 40 });
    const two = await store.claimRun(id, { workerId: 'host:2:bb' });
    expect(two.attempt).toBe(2);
    const attempts = await store.listAttempts(id);
    expect(attempts.map((a) => [a.attempt, a.workerId, a.resumedFromStep, a.outcome])).toEqual([
      [1, 'host:1:aa', 40, 'superseded'],
      [2, 'host:2:bb', null, null],
    ]);
    expect(attempts[0]!.endedAt).toBeInstanceOf(Date);
    expect(attempts[0]!.detail).toMatch(/taken over by attempt 2/);
    // An outcome is recorded once: the attempt that ended the run keeps how it ended.
    await store.updateAttempt(id, 2, { outcome: 'finished' });
    await store.updateAttempt(id, 2, { outcome: 'failed' });
    expect((await store.listAttempts(id))[1]).toMatchObject({ outcome: 'finished' });
    await store.endRun(id, 'finished');
    await expect(store.claimRun(id, { workerId: 'host:3:cc' })).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect((await store.getRunHead(id)).attempts).toBe(2);
    // A script's own start is an attempt too (no worker).
    const other = await queuedRun();
    await store.startRun(other);
    expect((await store.listAttempts(other)).map((a) => [a.attempt, a.workerId])).toEqual([[1, null]]);
    await expect(store.updateAttempt(other, 1, { outcome: 'nope' as never })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it("once a newer attempt has taken the run, every write of the older one is refused and changes nothing; the newer one's go through", async () => {
    const id = await queuedRun();
    const { attempt } = await store.claimRun(id, { workerId: 'w1' });
    const seen: FencedError[] = [];
    const old = store.fenced({ runId: id, attempt }, { onFenced: (e) => seen.push(e) });
    // While it is the current attempt, its writes go through (a re-sent batch as well: idempotent).
    await old.startRun(id, { environment: { tfjsBackend: 'cpu' } });
    await old.logMetrics(id, [{ key: 'loss', step: 1, value: 0.5 }]);
    await old.logMetrics(id, [{ key: 'loss', step: 1, value: 0.5 }, { key: 'loss', step: 2, value: 0.4 }]);
    await old.logArtifact(id, { path: 'checkpoints/step-00000002.ckpt', hash: 'a'.repeat(64), size: 1 });
    await old.heartbeat(id);
    expect((await store.getRunHead(id)).attempts).toBe(1);

    const { attempt: newer } = await store.claimRun(id, { workerId: 'w2' });
    const exp = await store.ensureExperiment({ name: 'fenced' });
    const tries: [string, () => Promise<unknown>][] = [
      ['logMetrics', () => old.logMetrics(id, [{ key: 'loss', step: 3, value: 0.3 }])],
      ['logArtifact', () => old.logArtifact(id, { path: 'checkpoints/step-00000003.ckpt', hash: 'b'.repeat(64), size: 1 })],
      ['setTags', () => old.setTags(id, { gate: 'passed' })],
      ['logParams', () => old.logParams(id, { extra: 1 })],
      ['mergeEnvironment', () => old.mergeEnvironment(id, { late: true })],
      ['heartbeat', () => old.heartbeat(id)],
      ['startRun', () => old.startRun(id)],
      ['endRun', () => old.endRun(id, 'finished')],
      ['addNote', () => old.addNote({ kind: 'run', id }, 'gate passed')],
      ['updateAttempt', () => old.updateAttempt(id, attempt, { outcome: 'finished' })],
      // Promotion and the champion: a new run, its lineage, a model version and an alias.
      ['createRun', () => old.createRun({ experimentId: exp.id, status: 'queued', tier: 'extended', tags: { promoted_from: id } })],
      ['addLineageEdge', () => old.addLineageEdge({ kind: 'run', id }, { kind: 'run', id: exp.id }, 'promoted_to')],
      ['registerModelVersion', () => old.registerModelVersion({ name: 'fenced-model', runId: id, artifactHash: 'c'.repeat(64) })],
      ['setModelAlias', () => old.setModelAlias('fenced-model', 'champion', 1)],
      // The pipeline's own records: the gate's verdict and the champion decision.
      ['recordGateResult', () => old.recordGateResult({ runId: id, tier: 'ci', passed: true, expression: "status = 'finished'", values: { status: 'finished' }, missing: [] })],
      ['recordChampionDecision', () => old.recordChampionDecision({ runId: id, tier: 'ci', decision: 'promoted', model: 'fenced-model', alias: 'champion', metric: 'loss', challenger: 0.3, champion: null, detail: 'no champion yet' })],
    ];
    for (const [name, write] of tries) {
      const e = await refused(write());
      expect(e.code, name).toBe('CONFLICT');
      expect(e).toMatchObject({ runId: id, attempt, current: newer });
      expect(e.message).toMatch(new RegExp(`attempt ${attempt} of run ${id} .*attempt ${newer}`));
    }
    expect(seen).toHaveLength(tries.length);

    // Nothing of it landed.
    const run = await store.getRun(id);
    expect(run.status).toBe('running');
    expect(run.tags).toEqual({});
    expect(run.params).toEqual({ lr: '0.1' });
    expect(run.environment).toEqual({ tfjsBackend: 'cpu' });
    expect((await store.getMetricSeries(id, 'loss')).points.map((p) => p.step)).toEqual([1, 2]);
    expect((await store.listArtifacts(id)).map((a) => a.path)).toEqual(['checkpoints/step-00000002.ckpt']);
    expect(await store.listNotes({ kind: 'run', id })).toEqual([]);
    expect((await store.searchRuns({ filter: `tags.promoted_from = '${id}'` })).runs).toEqual([]);
    expect((await store.listModels()).map((m) => m.name)).not.toContain('fenced-model');
    expect(await store.getPipelineDecisions(id)).toMatchObject({ gates: [], champion: [] });
    expect((await store.listAttempts(id)).map((a) => a.outcome)).toEqual(['superseded', null]);

    // The newer attempt writes, ends the run and records its outcome.
    const current = store.fenced({ runId: id, attempt: newer });
    await current.logMetrics(id, [{ key: 'loss', step: 3, value: 0.3 }]);
    await current.setTags(id, { gate: 'passed' });
    await current.endRun(id, 'finished');
    await current.updateAttempt(id, newer, { outcome: 'finished' });
    expect((await store.getRun(id)).status).toBe('finished');
    // Writes without a token (a user's own script, the portal) are not fenced.
    await store.setTags(id, { reviewed: 'yes' });
    expect((await store.getRun(id)).tags).toEqual({ gate: 'passed', reviewed: 'yes' });
  });

  it('a claim racing fenced writes: each write either landed before the claim or was refused, none half-way', async () => {
    const id = await queuedRun();
    const { attempt } = await store.claimRun(id, { workerId: 'w1' });
    const old = store.fenced({ runId: id, attempt });
    const write = (i: number) => old.logMetrics(id, [{ key: 'x', step: i, value: i }, { key: 'y', step: i, value: -i }]).then(() => i);
    // The claim goes in among the writes (the pool serves them in order, several at once).
    const before = Array.from({ length: 20 }, (_, i) => write(i));
    const claim = store.claimRun(id, { workerId: 'w2' });
    const after = Array.from({ length: 20 }, (_, i) => write(20 + i));
    const settled = await Promise.allSettled([...before, ...after]);
    await claim;
    const landed = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    for (const s of settled) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(FencedError);
    expect(landed.length).toBeGreaterThan(0);
    expect(landed.length).toBeLessThan(40);
    expect((await store.getMetricSeries(id, 'x', { maxPoints: 1000 })).points.map((p) => p.step).sort((a, b) => a - b)).toEqual(landed.sort((a, b) => a - b));
    expect((await store.getMetricSeries(id, 'y', { maxPoints: 1000 })).total).toBe(landed.length);
    expect((await store.getRun(id)).metrics.x?.count).toBe(landed.length);
  });
});
