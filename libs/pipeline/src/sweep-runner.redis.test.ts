import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PolicyContext } from '@cairn/engine';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePipelineConfig } from './config/index.ts';
import { TierQueues } from './queues.ts';
import { LEADERBOARD_MARKER, advanceSweep, listTrialRuns, parseSweepPolicies, startSweep, sweepState, truncationPolicy, type StartSweepOptions } from './sweep-runner/index.ts';
import { testRedis, type TestRedis } from './testing/redis.ts';
import { cancelRun, cancelSweep } from './cancel.ts';
import { startWorkers, type ProcessResult, type WorkerPool } from './worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');
const TRAIN = path.join(IRIS, 'train.ts');

/**
 * Sweeps against real Redis and an embedded store. The Iris example trains on the nightly
 * tier, whose epochs come from the params (fixed at a few), so a trial takes about a
 * second; the workers run in this process.
 */
describe('sweeps', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-sweep-'));
  const home = path.join(tmp, 'home');
  let redis: TestRedis;
  let store: Store;
  let blobs: LocalBlobStore;
  const opened: TierQueues[] = [];
  const pools: WorkerPool[] = [];
  const config = resolvePipelineConfig({ tiers: { nightly: { subset: 1, policies: [], concurrency: 4, retry: { attempts: 2, backoffMs: 100 } } } });
  // An lr of 1e-5 does not learn Iris in a few epochs; 1e-2 and up reach over 0.9.
  const space = { learningRate: { type: 'loguniform', min: 1e-5, max: 1e-1 }, hiddenUnits: { type: 'int', min: 2, max: 32 } };

  /** Queues under a prefix of their own, so each test's jobs are its own. */
  function queuesFor(name: string): TierQueues {
    const q = new TierQueues(redis.connection, `${redis.prefix}-${name}`);
    opened.push(q);
    return q;
  }

  function base(queues: TierQueues, o: Partial<StartSweepOptions> = {}): StartSweepOptions {
    return { store, blobs, queues, file: TRAIN, tier: 'nightly', dataset: 'iris', space, strategy: 'random', maxTrials: 6, parallel: 2, seed: 7, params: { epochs: 6 }, ...o };
  }

  async function pool(queues: TierQueues, extra: { sweepIntervalMs?: number; results?: ProcessResult[]; errors?: string[] } = {}): Promise<WorkerPool> {
    const p = await startWorkers({
      store,
      blobs,
      home,
      queues,
      config,
      connection: redis.connection,
      prefix: queues.prefix,
      tierList: ['nightly'],
      concurrency: 4,
      root: ROOT,
      sweepIntervalMs: extra.sweepIntervalMs ?? 0,
      onResult: (r) => extra.results?.push(r),
      onError: (runId, e) => extra.errors?.push(`${runId}: ${e.message}`),
      onSweepError: (id, e) => extra.errors?.push(`sweep ${id}: ${e.message}`),
    });
    pools.push(p);
    return p;
  }

  async function waitFor(what: string, predicate: () => Promise<boolean>, ms = 150_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    redis = await testRedis();
    store = await openStore({ home });
    blobs = new LocalBlobStore(path.join(home, 'blobs'));
    const snap = await snapshotDir(path.join(IRIS, 'data'), { store: blobs });
    await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
  });
  afterAll(async () => {
    for (const p of pools) await p.close().catch(() => undefined);
    for (const q of opened) await q.close().catch(() => undefined);
    await store?.close();
    // testRedis's cleanup deletes `bull:<prefix>-*`, which covers every per-test prefix.
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('runs a 20-trial bayes sweep 4 at a time to completion, abandoning poor trials early, with a leaderboard', async () => {
    const queues = queuesFor('main');
    const started = await startSweep(
      base(queues, {
        strategy: 'bayes',
        maxTrials: 20,
        parallel: 4,
        policies: [{ kind: 'bandit', slack: 0.1, minEvaluations: 2 }, { kind: 'truncation', percent: 30, minEvaluations: 2 }],
      }),
    );
    expect(started.trials).toHaveLength(4);
    expect(started.spec).toMatchObject({ maxTrials: 20, parallel: 4, strategy: { kind: 'tpe' }, objective: { metric: 'val_acc', direction: 'maximize' } });
    const parent = await store.getRun(started.parentId);
    expect(parent).toMatchObject({ status: 'running', tier: 'nightly', codeHash: started.codeHash, snapshotIds: [started.snapshotId] });
    expect(parent.params).toMatchObject({ epochs: '6' });
    expect(parent.params.learningRate).toBeUndefined();
    const first = await listTrialRuns(store, started.parentId);
    expect(first.map((t) => t.index)).toEqual([0, 1, 2, 3]);
    expect(first.every(({ run: r }) => r.codeHash === started.codeHash && r.parentRunId === started.parentId && r.status === 'queued')).toBe(true);
    expect((await store.getSweep(started.parentId))!).toMatchObject({ status: 'running', strategy: 'tpe', maxTrials: 20, parallel: 4, prefix: queues.prefix, objective: { metric: 'val_acc', direction: 'maximize' } });

    const results: ProcessResult[] = [];
    const errors: string[] = [];
    const t0 = Date.now();
    let maxInFlight = 0;
    await pool(queues, { results, errors });
    await waitFor('the sweep to end', async () => {
      const s = await sweepState(store, started.parentId);
      maxInFlight = Math.max(maxInFlight, s.counts.queued + s.counts.running);
      return s.parent.status !== 'running';
    });
    const elapsed = Date.now() - t0;

    const state = await sweepState(store, started.parentId);
    expect(errors).toEqual([]);
    expect(state.trials).toHaveLength(20);
    expect(state.trials.map((t) => t.index)).toEqual([...Array(20).keys()]);
    expect(new Set(state.trials.map((t) => t.runId)).size).toBe(20);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(state.trials.every((t) => ['finished', 'abandoned'].includes(t.status))).toBe(true);
    const abandoned = state.trials.filter((t) => t.status === 'abandoned');
    expect(abandoned.length).toBeGreaterThan(0);
    for (const t of abandoned) expect(t.reason).toMatch(/^(bandit|truncation): /);
    expect(state.parent.status).toBe('finished');
    expect(state.parent.statusReason).toMatch(/^20 trials \(.*\); best val_acc /);
    const best = state.leaderboard[0]!;
    expect(state.record).toMatchObject({ status: 'finished', best: { runId: best.runId, trial: best.index, value: best.value }, endedAt: expect.any(Date) });
    expect(state.parent.metrics.val_acc!.last).toBe(best.value);
    expect(state.parent.metrics.val_acc!.lastStep).toBe(20);
    const notes = await store.listNotes({ kind: 'run', id: started.parentId });
    expect(notes).toHaveLength(1);
    expect(notes[0]!.body).toContain(LEADERBOARD_MARKER);
    expect(notes[0]!.body).toMatch(/\| rank \| trial \| run \| status \| val_acc \| hiddenUnits \| learningRate \| reason \|/);
    expect(notes[0]!.body).toContain(`| 1 | ${best.index} | ${best.runId} | finished |`);
    // Trials are not promoted (the nightly tier promotes nothing anyway) and each one trained with its own params.
    const runs = await listTrialRuns(store, started.parentId);
    for (const t of runs) expect(Number(t.run.params.learningRate)).toBeCloseTo(t.params.learningRate as number, 12);
    console.log(`[sweep] 20 trials, parallel 4: ${(elapsed / 1000).toFixed(1)} s; ${abandoned.length} abandoned (${abandoned.map((t) => t.reason!.split(':')[0]).join(', ')}); best val_acc ${best.value}`);
    // A finished sweep is left alone.
    const again = await advanceSweep(started.parentId, { store, queues });
    expect(again).toMatchObject({ status: 'finished', created: [], inFlight: 0, ended: 20 });
    expect(await store.listNotes({ kind: 'run', id: started.parentId })).toHaveLength(1);
  }, 240_000);

  it('survives a worker restart: stopped mid-sweep, a trial lost meanwhile, new workers finish it with exactly maxTrials trials', async () => {
    const queues = queuesFor('restart');
    const started = await startSweep(base(queues, { maxTrials: 9, parallel: 3, params: { epochs: 12 } }));
    const first = await pool(queues);
    await waitFor('two trials to end', async () => (await sweepState(store, started.parentId)).trials.filter((t) => t.status !== 'queued' && t.status !== 'running').length >= 2);
    await first.close(); // running trials checkpoint and go back to their queue
    pools.splice(pools.indexOf(first), 1);

    // While no worker runs, a handed-back trial is declared lost (as markLostRuns would): nothing advances the sweep for it.
    let state = await sweepState(store, started.parentId);
    const handedBack = state.trials.filter((t) => t.status === 'running');
    expect(handedBack.length).toBeGreaterThan(0);
    const lost = handedBack[0]!;
    await store.endRun(lost.runId, 'failed', 'lost: no heartbeat for 300 s');
    const before = state.trials.length;
    // A scheduler restarting advances the sweep (twice at once: it must not double a trial).
    const [a, b] = await Promise.all([advanceSweep(started.parentId, { store, queues }), advanceSweep(started.parentId, { store, queues }, { repair: true })]);
    expect(a.created.length + b.created.length).toBe(Math.min(1, 9 - before));
    state = await sweepState(store, started.parentId);
    expect(state.counts.queued + state.counts.running).toBeLessThanOrEqual(3);

    const errors: string[] = [];
    await pool(queues, { sweepIntervalMs: 60_000, errors });
    await waitFor('the sweep to end', async () => (await store.getRun(started.parentId)).status !== 'running');
    state = await sweepState(store, started.parentId);
    expect(errors).toEqual([]);
    expect(state.parent.status).toBe('finished');
    expect(state.trials.map((t) => t.index)).toEqual([...Array(9).keys()]);
    expect(state.trials.every((t) => t.status !== 'queued' && t.status !== 'running')).toBe(true);
    expect(state.trials.find((t) => t.runId === lost.runId)).toMatchObject({ status: 'failed', reason: 'lost: no heartbeat for 300 s' });
    // The other handed-back trials resumed from their checkpoints and ended.
    for (const t of handedBack.slice(1)) expect(['finished', 'abandoned']).toContain(state.trials.find((x) => x.runId === t.runId)!.status);
    console.log(`[sweep] restart: ${handedBack.length} trials handed back; ${state.counts.finished} finished, ${state.counts.failed} failed`);
  }, 240_000);

  it('never creates a trial index twice when many processes advance at once, and keeps at most `parallel` in flight', async () => {
    const queues = queuesFor('race');
    const started = await startSweep(base(queues, { strategy: 'tpe', maxTrials: 30, parallel: 5 }));
    let rounds = 0;
    for (;;) {
      const trials = await listTrialRuns(store, started.parentId);
      const inFlight = trials.filter((t) => t.run.status === 'queued');
      expect(inFlight.length).toBeLessThanOrEqual(5);
      if (!inFlight.length) break;
      // End some of them (as workers would), then let eight "workers" advance together.
      for (const t of inFlight.slice(0, 1 + (rounds % 3))) {
        const p = t.params as { learningRate: number };
        await store.logMetrics(t.run.id, [{ key: 'val_acc', value: Math.min(0.99, 0.3 + p.learningRate * 6), step: 8 }]);
        await store.endRun(t.run.id, rounds % 5 === 4 ? 'abandoned' : 'finished');
      }
      await Promise.all(Array.from({ length: 8 }, () => advanceSweep(started.parentId, { store, queues })));
      rounds++;
    }
    const state = await sweepState(store, started.parentId);
    expect(state.trials.map((t) => t.index)).toEqual([...Array(30).keys()]);
    expect(state.parent.status).toBe('finished');
    expect(await store.listNotes({ kind: 'run', id: started.parentId })).toHaveLength(1);
  }, 120_000);

  it('caps a grid sweep at the grid and cancels a sweep: parent cancelled, queued trials removed, nothing more created', async () => {
    const queues = queuesFor('grid');
    const started = await startSweep(
      base(queues, { strategy: { kind: 'grid', gridPoints: 3 }, maxTrials: 100, parallel: 4, space: { learningRate: { type: 'choice', values: [0.001, 0.01] }, hiddenUnits: { type: 'int', min: 4, max: 8, step: 2 } } }),
    );
    expect(started.gridSize).toBe(6);
    expect(started.spec.maxTrials).toBe(6);
    expect(started.trials).toHaveLength(4);
    const jobs = queues.get('nightly');
    expect(await jobs.getJob(started.trials[0]!)).toBeDefined();

    const cancelled = await cancelSweep(started.parentId, { store, queues });
    expect(cancelled).toMatchObject({ parent: 'cancelled', signalled: [] });
    expect(cancelled.removed.sort()).toEqual([...started.trials].sort());
    for (const id of started.trials) {
      expect(await jobs.getJob(id)).toBeUndefined();
      expect((await store.getRun(id)).status).toBe('cancelled');
    }
    expect(await advanceSweep(started.parentId, { store, queues })).toMatchObject({ status: 'cancelled', created: [] });
    expect(await store.getSweep(started.parentId)).toMatchObject({ status: 'cancelled', endedAt: expect.any(Date) });
    expect(await listTrialRuns(store, started.parentId)).toHaveLength(4);
    // cancelRun on the parent is the same thing (and idempotent).
    expect(await cancelRun(started.parentId, { store, queues, connection: redis.connection })).toBe('already-ended');
  });

  it("ignores tags edited by a user: a sweep's size, parallelism, prefix and trials are the pipeline's record", async () => {
    const queues = queuesFor('tags');
    const started = await startSweep(base(queues, { maxTrials: 4, parallel: 2 }));
    const otherQueues = queuesFor('tags-other');
    const other = await startSweep(base(otherQueues, { maxTrials: 2, parallel: 1 }));
    const [t0, t1] = started.trials;
    const before = await sweepState(store, started.parentId);
    // What an editor can do through runs.setTags / deleteTag or the ingest API's tags route.
    const forged = { ...started.spec, maxTrials: 50, parallel: 20, prefix: 'elsewhere' };
    await store.setTags(started.parentId, { 'sweep.spec': JSON.stringify(forged), 'sweep.prefix': 'elsewhere', 'sweep.kind': 'trial', sweep: other.parentId });
    await store.setTags(t0!, { sweep: other.parentId, trial: '3', 'sweep.params': '{"learningRate":1}', 'sweep.kind': 'parent' });
    await store.deleteTag(t1!, 'sweep.kind');
    await store.deleteTag(t1!, 'trial');
    // A run that never was a sweep, tagged as one.
    const plain = await store.createRun({ experimentId: started.experimentId, status: 'running', tags: { 'sweep.kind': 'parent', 'sweep.spec': JSON.stringify(started.spec), 'sweep.prefix': queues.prefix } });

    // Nothing more is created: two trials are in flight of parallel 2.
    const progress = await advanceSweep(started.parentId, { store, queues });
    expect(progress).toMatchObject({ status: 'running', maxTrials: 4, created: [], inFlight: 2, ended: 0 });
    const state = await sweepState(store, started.parentId);
    expect(state.spec).toMatchObject({ maxTrials: 4, parallel: 2, prefix: queues.prefix });
    expect(state.trials.map((t) => [t.index, t.runId])).toEqual([
      [0, t0],
      [1, t1],
    ]);
    expect(state.trials.map((t) => t.params)).toEqual(before.trials.map((t) => t.params));
    // The other sweep did not gain a trial; the tagged run is no sweep.
    expect((await sweepState(store, other.parentId)).trials.map((t) => t.runId)).toEqual(other.trials);
    await expect(advanceSweep(plain.id, { store, queues })).rejects.toThrow(/is not a sweep/);
    await expect(sweepState(store, plain.id)).rejects.toThrow(/is not a sweep/);
    // Ending a trial advances its own sweep by one, whatever its tags say.
    await store.endRun(t0!, 'finished');
    expect((await advanceSweep(started.parentId, { store, queues })).created).toHaveLength(1);
    expect((await sweepState(store, started.parentId)).trials.map((t) => t.index)).toEqual([0, 1, 2]);
    await cancelSweep(started.parentId, { store, queues });
    // A parent ended by hand (the ingest API ends runs; markLostRuns fails them) ends its sweep.
    await store.endRun(other.parentId, 'cancelled', 'ended by hand');
    expect(await advanceSweep(other.parentId, { store, queues: otherQueues })).toMatchObject({ status: 'cancelled', created: [] });
    expect(await store.getSweep(other.parentId)).toMatchObject({ status: 'cancelled' });
    await cancelSweep(other.parentId, { store, queues: otherQueues });
  });

  it('refuses a bad sweep before creating anything', async () => {
    const queues = queuesFor('bad');
    const before = (await store.searchRuns({ limit: 1000 })).runs.length;
    await expect(startSweep(base(queues, { params: { epochs: 3, learningRate: 0.1 } }))).rejects.toThrow(/learningRate is both fixed and swept/);
    await expect(startSweep(base(queues, { space: { lerningRate: { type: 'uniform', min: 0, max: 1 } } }))).rejects.toThrow(/sweeps 'lerningRate', which iris-mlp does not take/);
    await expect(startSweep(base(queues, { space: { hiddenUnits: { type: 'int', min: 0, max: 4 } } }))).rejects.toThrow(/invalid params for iris-mlp: hiddenUnits/);
    await expect(startSweep(base(queues, { space: { lr: { type: 'loguniform', min: 0, max: 1 } } }))).rejects.toThrow(/invalid search space: lr/);
    await expect(startSweep(base(queues, { strategy: 'annealing' }))).rejects.toThrow(/strategy must be one of grid, random, tpe/);
    await expect(startSweep(base(queues, { parallel: 0 }))).rejects.toThrow(/parallel must be a whole number/);
    await expect(startSweep(base(queues, { maxTrials: undefined }))).rejects.toThrow(/needs its number of trials/);
    await expect(startSweep(base(queues, { policies: [{ kind: 'truncation', percent: 100 }] }))).rejects.toThrow(/percent: must be a number greater than 0 and less than 100/);
    await expect(startSweep(base(queues, { policies: [{ kind: 'bandit' }] }))).rejects.toThrow(/invalid policy spec/);
    await expect(startSweep(base(queues, { dataset: 'nope' }))).rejects.toThrow(/dataset 'nope' not found/);
    expect((await store.searchRuns({ limit: 1000 })).runs.length).toBe(before);
  });

  it('plans and enqueues a 1,000-trial random sweep (timing, no assertion on it)', async () => {
    const timings: string[] = [];
    for (const parallel of [4, 1000]) {
      const queues = queuesFor(`bench-${parallel}`);
      const t = performance.now();
      const started = await startSweep(base(queues, { maxTrials: 1000, parallel }));
      const ms = performance.now() - t;
      expect(started.trials).toHaveLength(parallel);
      expect(await queues.get('nightly').getJobCountByTypes('waiting', 'prioritized')).toBe(parallel);
      timings.push(`parallel ${parallel}: ${ms.toFixed(0)} ms`);
      await cancelSweep(started.parentId, { store, queues });
    }
    console.log(`[sweep bench] 1,000-trial random sweep planned and enqueued (embedded store): ${timings.join('; ')}`);
  }, 120_000);
});

describe('truncation as an engine policy', () => {
  const ctx = (values: number[], peers: { step: number; value: number }[][]): PolicyContext => ({
    direction: 'maximize',
    history: values.map((value, i) => ({ step: (i + 1) * 10, epoch: i, elapsedMs: 0, value, metrics: {} })),
    peers: peers.map((points, i) => ({ runId: `p${i}`, points })),
    elapsedMs: 0,
  });
  const [spec] = parseSweepPolicies([{ kind: 'truncation', percent: 25 }]);
  const policy = truncationPolicy(spec as { kind: 'truncation'; percent: number }, 'val_acc');

  it('cuts a trial in the worst quarter of the peers that reached its step, by best-so-far', () => {
    const peers = [0.9, 0.8, 0.85].map((v) => [10, 20, 30, 40].map((step) => ({ step, value: v })));
    expect(policy.check(ctx([0.3, 0.4], peers))).toBeNull(); // fewer than 3 evaluations
    const v = policy.check(ctx([0.3, 0.4, 0.5], peers));
    expect(v).toMatchObject({ policy: 'truncation', details: { step: 30, trials: 4, cut: 1, rank: 4 } });
    expect(v!.reason).toMatch(/^truncation: best val_acc 0\.5 by step 30 ranks 4th of 4 trials/);
    expect(policy.check(ctx([0.3, 0.95, 0.5], peers))).toBeNull(); // its best so far is the best
  });

  it('leaves out peers that stopped before the step', () => {
    const peers = [0.9, 0.8, 0.85].map((v) => [10, 20].map((step) => ({ step, value: v })));
    expect(policy.check(ctx([0.3, 0.4, 0.5], peers))).toBeNull(); // alone at step 30: nothing to rank against
  });
});
