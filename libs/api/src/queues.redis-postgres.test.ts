import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyGate, cancelChannel, connectRedis, deleteQueueKeys, DEFAULT_REDIS_URL, TierQueues } from '@cairn/pipeline';

const redisUrl = () => process.env.REDIS_URL || DEFAULT_REDIS_URL;
import type { Experiment, Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import type { ApiQueues } from './queues.ts';
import { callerFor, teamViewer, trpcError } from './test-support.ts';

type Redis = Awaited<ReturnType<typeof connectRedis>>;

/** Queues of their own under a fresh prefix on the local Redis (REDIS_URL), removed afterwards. */
async function testQueues(): Promise<{ queues: ApiQueues; redis: Redis; close(): Promise<void> }> {
  const redis = await connectRedis(redisUrl(), { timeoutMs: 2_000 });
  const prefix = `cairn-api-test-${randomBytes(4).toString('hex')}`;
  const tierQueues = new TierQueues(redis, prefix);
  return {
    queues: { tierQueues, timeoutMs: 2_000 },
    redis,
    async close() {
      await tierQueues.close();
      await deleteQueueKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

const SPEC = {
  version: 1,
  space: { lr: { type: 'loguniform', min: 1e-4, max: 1e-1 } },
  strategy: { kind: 'random' },
  seed: 7,
  maxTrials: 4,
  parallel: 2,
  objective: { metric: 'val_acc', direction: 'maximize' },
  policies: [],
  prefix: 'cairn',
  job: {},
};

describe.each(testDrivers())('queues, sweeps and gates on $name', (driver) => {
  let store: Store;
  let t: Awaited<ReturnType<typeof testQueues>>;
  let api: ReturnType<typeof callerFor>;
  let exp: Experiment;

  beforeAll(async () => {
    store = await driver.open();
    t = await testQueues();
    api = callerFor(store, { queues: t.queues });
    exp = await store.ensureExperiment({ name: 'queued' });
  });
  afterAll(async () => {
    await t?.close();
    await driver.cleanup();
  });

  it('without queues: reports them unavailable and refuses queue actions with PRECONDITION_FAILED', async () => {
    const api = callerFor(store);
    expect(await api.queues.counts()).toEqual({ available: false, tiers: [], reason: 'the training queues are not available: start Redis or set REDIS_URL' });
    const run = await store.createRun({ experimentId: exp.id, status: 'queued' });
    for (const call of [api.queues.jobs({ tier: 'ci', state: 'waiting' }), api.queues.cancel({ runId: run.id })]) {
      const e = await trpcError(call);
      expect([e.code, e.message]).toEqual(['PRECONDITION_FAILED', 'the training queues are not available: start Redis or set REDIS_URL']);
    }
    const seen = [];
    for await (const counts of await api.queues.events()) seen.push(counts);
    expect(seen).toEqual([{ available: false, tiers: [], reason: expect.stringMatching(/start Redis or set REDIS_URL/) }]);
  });

  it("queues a new run of a run's code, data and params on a tier, with params overridden, and refuses what cannot run", async () => {
    const snapshot = 'c'.repeat(64);
    await store.recordSnapshot({ dataset: 'resubmit-data', id: snapshot, fileCount: 1, bytes: 1 });
    const source = await store.createRun({
      experimentId: exp.id,
      name: 'trained-once',
      code: { codeHash: 'd'.repeat(64), gitSha: 'abc1234', gitDirty: false },
      snapshotIds: [snapshot],
      params: { lr: 0.01, epochs: 5, optimizer: 'adam' },
      tags: { definition: 'iris-mlp', module: 'examples/iris-mlp/train.ts', team: 'not copied' },
    });
    await store.endRun(source.id, 'finished');

    const queued = await api.queues.submit({ runId: source.id.slice(0, 24), tier: 'nightly', params: { lr: 0.05 } });
    expect(queued).toMatchObject({ status: 'queued', tier: 'nightly', experimentName: 'queued', params: { lr: 0.05, epochs: 5, optimizer: 'adam' } });
    const run = await store.getRun(queued.id);
    expect(run).toMatchObject({ codeHash: 'd'.repeat(64), gitSha: 'abc1234', gitDirty: false, snapshotIds: [snapshot] });
    expect(run.tags).toEqual({ definition: 'iris-mlp', module: 'examples/iris-mlp/train.ts', resubmitted_from: source.id });
    // The prefix its workers queue it again under, should Redis lose the job: the pipeline's record, not a tag.
    expect(run.queuePrefix).toBe(t.queues.tierQueues.prefix);
    // On the nightly queue, with the default nightly retry policy.
    const job = await t.queues.tierQueues.get('nightly').getJob(queued.id);
    expect(job?.data).toEqual({ runId: queued.id });
    expect(job?.opts.attempts).toBeGreaterThanOrEqual(1);
    // Its code and data link to it in the lineage, as for any queued run.
    const upstream = await store.lineage({ kind: 'run', id: queued.id }, { direction: 'upstream', depth: 1 });
    expect(upstream.nodes.map((n) => n.kind).sort()).toEqual(['code', 'run', 'snapshot']);

    const tracked = await store.createRun({ experimentId: exp.id, name: 'from-a-script' });
    const noCode = await trpcError(api.queues.submit({ runId: tracked.id, tier: 'ci' }));
    expect([noCode.code, noCode.message]).toEqual(['PRECONDITION_FAILED', "run from-a-script has no code bundle to run again: it was tracked from a script, not queued; queue its module with 'cairn submit'"]);
    const badTier = await trpcError(api.queues.submit({ runId: source.id, tier: 'hourly' }));
    expect([badTier.code, badTier.message]).toEqual(['BAD_REQUEST', "unknown tier 'hourly' (ci, extended, nightly, weekly)"]);
    const badParam = await trpcError(api.queues.submit({ runId: source.id, tier: 'ci', params: { lr: [1] as unknown as number } }));
    expect(badParam.code).toBe('BAD_REQUEST');
    const without = await trpcError(callerFor(store).queues.submit({ runId: source.id, tier: 'ci' }));
    expect(without.code).toBe('PRECONDITION_FAILED');
    // Team mode: queuing is writing; a viewer of the project, or anyone outside it, is told the run does not exist.
    const project = (await store.listProjects()).find((x) => x.name === 'default')!;
    for (const roles of [{ [project.id]: 'viewer' as const }, {}]) {
      const denied = await trpcError(callerFor(store, { queues: t.queues, viewer: teamViewer('cy', roles) }).queues.submit({ runId: source.id, tier: 'ci' }));
      expect([denied.code, denied.message]).toEqual(['NOT_FOUND', `run '${source.id}' not found`]);
    }
    expect((await store.searchRuns({ filter: `tags.resubmitted_from = '${source.id}'` })).runs).toHaveLength(1);
    await t.queues.tierQueues.get('nightly').remove(queued.id);
  });

  it('counts jobs per tier, lists them with their runs, and cancels a waiting one', async () => {
    const a = await store.createRun({ experimentId: exp.id, name: 'qa', status: 'queued', tier: 'ci' });
    const b = await store.createRun({ experimentId: exp.id, name: 'qb', status: 'queued', tier: 'ci' });
    const c = await store.createRun({ experimentId: exp.id, name: 'qc', status: 'queued', tier: 'extended' });
    await t.queues.tierQueues.enqueue('ci', a.id, { priority: 1 });
    await t.queues.tierQueues.enqueue('ci', b.id);
    await t.queues.tierQueues.enqueue('extended', c.id);
    const counts = await api.queues.counts();
    expect(counts.available).toBe(true);
    expect(counts.tiers.map((x) => x.tier)).toEqual(['ci', 'extended', 'nightly', 'weekly']);
    expect(counts.tiers[0]).toEqual({ tier: 'ci', waiting: 2, active: 0, delayed: 0, completed: 0, failed: 0, paused: 0 });
    expect(counts.tiers[1]!.waiting).toBe(1);

    const jobs = await api.queues.jobs({ tier: 'ci', state: 'waiting' });
    expect(jobs.map((j) => [j.runName, j.tier, j.state, j.attempts]).sort()).toEqual([
      ['qa', 'ci', 'waiting', 0],
      ['qb', 'ci', 'waiting', 0],
    ]);
    expect(jobs[0]!.enqueuedAt).toBeInstanceOf(Date);
    expect(await api.queues.jobs({ tier: 'ci', state: 'failed' })).toEqual([]);
    const badTier = await trpcError(api.queues.jobs({ tier: 'hourly', state: 'waiting' }));
    expect([badTier.code, badTier.message]).toEqual(['BAD_REQUEST', "unknown tier 'hourly' (ci, extended, nightly, weekly)"]);
    const badState = await trpcError(api.queues.jobs({ tier: 'ci', state: 'stuck' as 'waiting' }));
    expect(badState.code).toBe('BAD_REQUEST');

    const cancelled = await api.queues.cancel({ runId: a.id.slice(0, 24) });
    expect(cancelled.outcome).toBe('removed');
    expect(cancelled.run).toMatchObject({ id: a.id, status: 'cancelled', statusReason: 'cancelled before it started', experimentName: 'queued' });
    expect(await t.queues.tierQueues.get('ci').getJob(a.id)).toBeUndefined();
    expect((await api.queues.counts()).tiers[0]!.waiting).toBe(1);
    expect((await api.queues.cancel({ runId: a.id })).outcome).toBe('already-ended');
  });

  it('signals a running run to its worker', async () => {
    const sub = t.redis.duplicate();
    const got: string[] = [];
    await sub.subscribe(cancelChannel(t.queues.tierQueues.prefix));
    sub.on('message', (_channel, message: string) => got.push(message));
    try {
      const run = await store.createRun({ experimentId: exp.id, name: 'busy', tier: 'ci' });
      expect((await api.queues.cancel({ runId: run.id })).outcome).toBe('signalled');
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual([run.id]);
    } finally {
      sub.disconnect();
    }
  });

  it('streams counts when they change', async () => {
    const stream = await api.queues.events({ intervalMs: 200 });
    const seen: number[] = [];
    const run = await store.createRun({ experimentId: exp.id, name: 'later', status: 'queued', tier: 'nightly' });
    for await (const counts of stream) {
      seen.push(counts.tiers.find((x) => x.tier === 'nightly')!.waiting);
      if (seen.length === 1) await t.queues.tierQueues.enqueue('nightly', run.id);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([0, 1]);
  });

  it('reports the queues unavailable when Redis stops answering', async () => {
    const redis = await connectRedis(redisUrl(), { timeoutMs: 2_000 });
    const queues: ApiQueues = { tierQueues: new TierQueues(redis, 'cairn-api-gone'), timeoutMs: 300 };
    redis.disconnect();
    const counts = await callerFor(store, { queues }).queues.counts();
    expect(counts).toMatchObject({ available: false, prefix: 'cairn-api-gone', tiers: [] });
    expect(counts.reason).toBeTruthy();
    const e = await trpcError(callerFor(store, { queues }).queues.jobs({ tier: 'ci', state: 'waiting' }));
    expect(e.code).toBe('SERVICE_UNAVAILABLE');
    expect(e.message).toMatch(/^the queue operation failed: |^Redis did not answer within 300 ms/);
  });

  it("lists only readable runs' jobs in team mode, and refuses to cancel another project's run", async () => {
    const hidden = await store.ensureExperiment({ project: 'hidden', name: 'x' });
    const secret = await store.createRun({ experimentId: hidden.id, name: 'secret', status: 'queued', tier: 'weekly' });
    const mine = await store.createRun({ experimentId: exp.id, name: 'mine', status: 'queued', tier: 'weekly' });
    await t.queues.tierQueues.enqueueMany('weekly', [secret.id, mine.id]);
    const project = (await store.listProjects()).find((p) => p.name === 'default')!;
    const ana = callerFor(store, { queues: t.queues, viewer: teamViewer('ana', { [project.id]: 'editor' }) });
    expect((await ana.queues.jobs({ tier: 'weekly', state: 'waiting' })).map((j) => j.runName)).toEqual(['mine']);
    const e = await trpcError(ana.queues.cancel({ runId: secret.id }));
    expect([e.code, e.message]).toEqual(['NOT_FOUND', `run '${secret.id}' not found`]);
    expect((await store.getRun(secret.id)).status).toBe('queued');
    const viewer = callerFor(store, { queues: t.queues, viewer: teamViewer('bo', { [project.id]: 'viewer' }) });
    expect((await trpcError(viewer.queues.cancel({ runId: mine.id }))).code).toBe('NOT_FOUND');
    expect((await ana.queues.cancel({ runId: mine.id })).outcome).toBe('removed');
  });

  it('lists sweeps with their progress and best, and ranks a leaderboard with early-terminated trials marked', async () => {
    const { run: parent } = await store.createSweep({
      run: { experimentId: exp.id, name: 'lr-sweep' },
      sweep: { strategy: 'random', spec: SPEC, objective: { metric: 'val_acc', direction: 'maximize' }, prefix: 'cairn', maxTrials: 4, parallel: 2 },
    });
    const outcomes = [
      { status: 'finished', value: 0.8 },
      { status: 'abandoned', value: 0.6, reason: 'median: below the median of 2 peers' },
      { status: 'finished', value: 0.9 },
      { status: 'running', value: 0.7 },
    ] as const;
    const trials = [];
    for (const [i, o] of outcomes.entries()) {
      const trial = await store.createSweepTrial(parent.id, { index: i, params: { lr: 0.01 * (i + 1) } }, { experimentId: exp.id, name: `lr-sweep-t${i}`, params: { lr: 0.01 * (i + 1) } });
      await store.logMetrics(trial.id, [{ key: 'val_acc', value: o.value, step: 1 }]);
      if (o.status !== 'running') await store.endRun(trial.id, o.status, 'reason' in o ? o.reason : null);
      trials.push(trial);
    }
    await store.logMetrics(parent.id, [{ key: 'val_acc', value: 0.9, step: 3 }]);
    await store.updateSweep(parent.id, { best: { runId: trials[2]!.id, trial: 2, value: 0.9 } });

    const list = await api.sweeps.list({ experimentIds: [exp.id] });
    expect(list).toEqual([
      {
        id: parent.id,
        name: 'lr-sweep',
        experimentId: exp.id,
        experimentName: 'queued',
        status: 'running',
        statusReason: null,
        createdAt: expect.any(Date),
        endedAt: null,
        strategy: 'random',
        objective: { metric: 'val_acc', direction: 'maximize' },
        trials: { total: 4, created: 4, done: 3, inFlight: 1, counts: { finished: 2, abandoned: 1, running: 1 } },
        parallel: 2,
        best: { value: 0.9, runId: trials[2]!.id, trial: 2 },
      },
    ]);

    const board = await api.sweeps.leaderboard({ sweepId: parent.id });
    expect(board.sweep.id).toBe(parent.id);
    expect(board.rows.map((r) => [r.rank, r.index, r.status, r.value, r.earlyTerminated])).toEqual([
      [1, 2, 'finished', 0.9, false],
      [2, 0, 'finished', 0.8, false],
      [3, 3, 'running', 0.7, false],
      [4, 1, 'abandoned', 0.6, true],
    ]);
    expect(board.rows[3]).toMatchObject({ runId: trials[1]!.id, name: 'lr-sweep-t1', params: { lr: 0.02 }, reason: 'median: below the median of 2 peers' });
    const notSweep = await trpcError(api.sweeps.leaderboard({ sweepId: trials[0]!.id }));
    expect([notSweep.code, notSweep.message]).toEqual(['BAD_REQUEST', `run ${trials[0]!.id} is not a sweep`]);
  });

  it("shows a run's gate verdict as the pipeline records it", async () => {
    const run = await store.createRun({ experimentId: exp.id, name: 'gated', tier: 'ci' });
    await store.logMetrics(run.id, [{ key: 'val_acc', value: 0.93, step: 1 }]);
    await store.endRun(run.id, 'finished');
    await applyGate(store, run.id, "metrics.val_acc >= 0.9 and status = 'finished'", 'ci');
    const view = await api.runs.get({ id: run.id });
    expect(view.pipeline.gates).toEqual([{ passed: true, tier: 'ci', expression: "metrics.val_acc >= 0.9 and status = 'finished'", values: { 'metrics.val_acc': 0.93, status: 'finished' }, missing: [], evaluatedAt: expect.any(Date) }]);
    await applyGate(store, run.id, 'metrics.loss <= 0.1', 'extended');
    const both = (await api.runs.get({ id: run.id })).pipeline.gates;
    expect(both.map((g) => g.tier)).toEqual(['ci', 'extended']);
    expect(both[1]).toMatchObject({ passed: false, tier: 'extended', expression: 'metrics.loss <= 0.1', missing: ['metrics.loss'] });
    // The newest verdicts with their runs, for the queues page.
    const latest = await api.runs.gates({ experimentIds: [exp.id], limit: 2 });
    expect(latest.map((v) => [v.run.id, v.gate.tier, v.gate.passed])).toEqual([
      [run.id, 'extended', false],
      [run.id, 'ci', true],
    ]);
  });
});
