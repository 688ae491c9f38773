import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TierQueues, submitRun } from '@cairn/pipeline';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { testPostgres } from '@cairn/store/testing';
import { testRedis, type TestRedis } from '../../../libs/pipeline/src/testing/redis.ts';
import { startWorkerProcess, type WorkerProcess } from './test-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS_DATA = path.join(ROOT, 'examples/iris-mlp/data');
const SLOW = fileURLToPath(new URL('./fixtures/slow-step/train.ts', import.meta.url));
/** The metrics a run's training decides (timings and memory are left out: they differ run to run). */
const LEARNED = ['loss', 'acc', 'val_loss', 'val_acc', 'epoch'];
const STEP_MS = 3500;
const LOCK_MS = 3000;

/**
 * Lock renewal and takeover, for real: `cairn-worker` processes on Redis and PostgreSQL
 * train a ci run (2 epochs of 2 steps) whose every step blocks the training thread for
 * 3.5 s (longer than the 3 s lock), on the CPU backend. The run passes its gate and is promoted to extended,
 * which no worker here consumes, so promotions can be counted. An uninterrupted run of
 * the same submission (one worker, the default lock) is the reference for the metrics.
 */
describe('job locks and takeover (cairn-worker processes, Redis, PostgreSQL)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-takeover-'));
  const blobsDir = path.join(tmp, 'blobs');
  const configFile = path.join(tmp, 'cairn.config.ts');
  let pg: { url: string; drop(): Promise<void> };
  let store: Store;
  let blobs: LocalBlobStore;
  const workers: WorkerProcess[] = [];
  const redises: TestRedis[] = [];
  let reference: Promise<Record<string, [number, number][]>>;

  beforeAll(async () => {
    pg = await testPostgres();
    store = await openStore({ url: pg.url });
    blobs = new LocalBlobStore(blobsDir);
    const snap = await snapshotDir(IRIS_DATA, { store: blobs });
    await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
    fs.writeFileSync(configFile, `export default { tiers: { ci: { subset: 1, epochs: 2, gate: "status = 'finished'", promotesTo: 'extended' } } };\n`);
    // The uninterrupted run, meanwhile: one worker with the default lock (60 s) on a queue of its own.
    const redis = await redisFor();
    const runId = await submit(redis);
    const w = worker(redis);
    reference = w.waitFor(finishedLine(runId), 240_000).then(() => learned(runId));
    reference.catch(() => undefined);
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) w.proc.kill('SIGKILL');
    for (const r of redises) await r.close().catch(() => undefined);
    await store?.close();
    await pg?.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function redisFor(): Promise<TestRedis> {
    const r = await testRedis();
    redises.push(r);
    return r;
  }

  function worker(redis: TestRedis, extra: string[] = []): WorkerProcess {
    const w = startWorkerProcess(['--tiers', 'ci', '--config', configFile, '--db', pg.url, ...extra], {
      REDIS_URL: redis.url,
      CAIRN_QUEUE_PREFIX: redis.prefix,
      CAIRN_HOME: path.join(tmp, 'home'),
      CAIRN_BLOBS: blobsDir,
      CAIRN_BACKEND: 'cpu',
    });
    workers.push(w);
    return w;
  }

  async function submit(redis: TestRedis): Promise<string> {
    const queues = new TierQueues(redis.connection, redis.prefix);
    try {
      return (await submitRun({ store, blobs, queues, file: SLOW, tier: 'ci', dataset: 'iris', params: { stepMs: STEP_MS }, job: { attempts: 2 } })).runId;
    } finally {
      await queues.close();
    }
  }

  const startedLine = (runId: string) => new RegExp(`\\[ci\\] run ${runId} started`, 'g');
  const finishedLine = (runId: string) => new RegExp(`\\[ci\\] run ${runId} finished in`, 'g');

  /** Each learned metric's series as [step, value] pairs. */
  async function learned(runId: string): Promise<Record<string, [number, number][]>> {
    const out: Record<string, [number, number][]> = {};
    for (const key of LEARNED) out[key] = (await store.getMetricSeries(runId, key, { maxPoints: 100_000 })).points.map((p) => [p.step, p.value]);
    return out;
  }

  async function promotions(runId: string): Promise<number> {
    return (await store.searchRuns({ filter: `tags.promoted_from = '${runId}'`, includeArchived: true })).runs.length;
  }

  /** The job as BullMQ has it once it reached a final state (completed or failed). */
  async function settledJob(redis: TestRedis, runId: string, ms = 240_000) {
    const queues = new TierQueues(redis.connection, redis.prefix);
    try {
      for (const deadline = Date.now() + ms; ; ) {
        const job = await queues.get('ci').getJob(runId);
        const state = await job?.getState();
        if (job && (state === 'completed' || state === 'failed')) return { state, stalledCounter: job.stalledCounter, failedReason: job.failedReason };
        if (Date.now() > deadline) throw new Error(`job ${runId} not settled in ${ms} ms (state ${state})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await queues.close();
    }
  }

  async function stop(w: WorkerProcess): Promise<void> {
    w.proc.kill('SIGTERM');
    expect((await w.exitedWithin(60_000)).code).toBe(0);
  }

  it('two live workers and a lock shorter than one step: the run trains once, ends once, is promoted once, its series that of an uninterrupted run', async () => {
    const redis = await redisFor();
    const runId = await submit(redis);
    const a = worker(redis, ['--lock-ms', String(LOCK_MS)]);
    const b = worker(redis, ['--lock-ms', String(LOCK_MS)]);

    const job = await settledJob(redis, runId);
    const both = () => `${a.stderr()}\n${b.stderr()}`;
    expect(job, both()).toMatchObject({ state: 'completed', stalledCounter: 0 });
    // The run's end is logged by whichever worker trained it (the other never took it).
    await (finishedLine(runId).test(a.stderr()) ? a : b).waitFor(finishedLine(runId), 30_000);
    expect(both().match(startedLine(runId)), both()).toHaveLength(1);
    expect(both().match(finishedLine(runId)), both()).toHaveLength(1);
    expect(both()).not.toMatch(/taken over|store unreachable|cannot be honoured/);

    const run = await store.getRun(runId);
    expect(run.status).toBe('finished');
    expect(await promotions(runId)).toBe(1);
    const attempts = await store.listAttempts(runId);
    expect(attempts.map((x) => [x.attempt, x.outcome])).toEqual([[1, 'finished']]);
    expect(run.attempts).toBe(1);
    expect(await learned(runId)).toEqual(await reference);
    await Promise.all([stop(a), stop(b)]);
  }, 300_000);

  it('a worker stopped (SIGSTOP) past its lock is fenced when it comes back: its writes are refused, the run ends once and is promoted once', async () => {
    const redis = await redisFor();
    const runId = await submit(redis);
    const first = worker(redis, ['--lock-ms', String(LOCK_MS)]);
    await first.waitFor(startedLine(runId), 60_000);
    // Mid-training: once its first checkpoint is recorded.
    for (const deadline = Date.now() + 120_000; !(await store.listArtifacts(runId)).some((x) => x.path.startsWith('checkpoints/')); ) {
      if (Date.now() > deadline) throw new Error(`no checkpoint: ${first.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    first.proc.kill('SIGSTOP');
    const second = worker(redis, ['--lock-ms', String(LOCK_MS)]);
    try {
      // Its lock expires while it is stopped: the second worker takes the stalled job.
      await second.waitFor(startedLine(runId), 120_000);
    } finally {
      first.proc.kill('SIGCONT');
    }
    // Back, the first worker finds the run taken over: the store refuses its writes and it stops.
    await first.waitFor(new RegExp(`\\[ci\\] run ${runId}: attempt 1 was taken over by attempt 2 .*its writes are refused`), 60_000);
    await second.waitFor(finishedLine(runId), 180_000);
    const job = await settledJob(redis, runId);
    expect(job.state).toBe('completed');

    // One end, one promotion, by the second worker alone.
    expect(first.stderr()).not.toMatch(new RegExp(`run ${runId} (finished|failed|cancelled|abandoned)`));
    expect(second.stderr().match(finishedLine(runId))).toHaveLength(1);
    expect((await store.getRun(runId)).status).toBe('finished');
    expect(await promotions(runId)).toBe(1);
    const attempts = await store.listAttempts(runId);
    expect(attempts.map((x) => [x.attempt, x.workerId?.split(':')[1], x.outcome])).toEqual([
      [1, String(first.proc.pid), 'superseded'],
      [2, String(second.proc.pid), 'finished'],
    ]);
    expect(attempts[1]!.resumedFromStep).toBeGreaterThan(0);
    // No duplicate or divergent point: the series is the uninterrupted run's, point for point.
    expect(await learned(runId)).toEqual(await reference);
    await Promise.all([stop(first), stop(second)]);
  }, 360_000);

  it('refuses a lock below the floor at start, and one the measured stall of the first steps cannot honour at job start', async () => {
    const redis = await redisFor();
    const tooShort = worker(redis, ['--lock-ms', '500']);
    expect((await tooShort.exited).code).toBe(2);
    expect(tooShort.stderr()).toMatch(/--lock-ms 500 is below the floor of 2000 ms/);

    // Training on the main thread: each 3.5 s step blocks the loop BullMQ renews the lock from.
    const runId = await submit(redis);
    const inline = worker(redis, ['--lock-ms', String(LOCK_MS), '--train-in', 'main']);
    expect((await inline.exited).code).toBe(1);
    expect(inline.stderr()).toMatch(/--lock-ms 3000 cannot be honoured: the worker's event loop stalled for [3-6]\.\d s during the first steps of run .*use --lock-ms (\d+) or more/);
    const smallest = Number(/use --lock-ms (\d+) or more/.exec(inline.stderr())![1]);
    expect(smallest).toBeGreaterThanOrEqual(3 * STEP_MS);
    // The job goes back to its queue (its lock had expired during the stall, so it may wait as
    // a stalled job for the next worker's check, and this worker may have taken it once more
    // before the refusal stopped it); a worker that trains in its thread takes it and finishes.
    expect(inline.stderr()).not.toMatch(new RegExp(`run ${runId} (finished|failed)`));
    const refused = (await store.listAttempts(runId)).map((x) => x.outcome);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(new Set(refused)).toEqual(new Set(['handed_back']));
    const next = worker(redis, ['--lock-ms', String(LOCK_MS)]);
    await next.waitFor(finishedLine(runId), 180_000);
    expect(await settledJob(redis, runId)).toMatchObject({ state: 'completed' });
    expect((await store.listAttempts(runId)).map((x) => x.outcome)).toEqual([...refused, 'finished']);
    expect(await learned(runId)).toEqual(await reference);
    await stop(next);
  }, 300_000);
});
