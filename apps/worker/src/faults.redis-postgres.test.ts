import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TierQueues, submitRun } from '@cairn/pipeline';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { testPostgres } from '@cairn/store/testing';
import { startTcpProxy, type TcpProxy } from '../../../libs/store/src/tcp-proxy.ts';
import { testRedis, type TestRedis } from '../../../libs/pipeline/src/testing/redis.ts';
import { startWorkerProcess, type WorkerProcess } from './test-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');

/**
 * The worker's faults, each for real against real Redis and PostgreSQL: a worker
 * SIGKILLed mid-training, Redis killed and restarted under a running job, and PostgreSQL
 * cut off the network for 10 s. Every case trains the Iris MLP as a `nightly` run (no
 * early stopping, a checkpoint every epoch) in `cairn-worker` processes, and checks the
 * run's metric series point by point afterwards: every epoch exactly once.
 */
describe('worker faults', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-faults-'));
  const blobsDir = path.join(tmp, 'blobs');
  const configFile = path.join(tmp, 'cairn.config.ts');
  let pg: { url: string; drop(): Promise<void> };
  let store: Store;
  let blobs: LocalBlobStore;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    pg = await testPostgres();
    store = await openStore({ url: pg.url });
    blobs = new LocalBlobStore(blobsDir);
    const snap = await snapshotDir(path.join(IRIS, 'data'), { store: blobs });
    await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
    // No gate, no promotion: the runs end where they are.
    fs.writeFileSync(configFile, `export default { tiers: { nightly: { schedule: null, candidatesFrom: null, gate: null, promotesTo: null } } };\n`);
  }, 60_000);
  afterAll(async () => {
    for (const w of workers) w.proc.kill('SIGKILL');
    await store?.close();
    await pg?.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function worker(redis: TestRedis, dbUrl: string, extra: string[] = [], trainer = ''): WorkerProcess {
    const w = startWorkerProcess(['--tiers', 'nightly', '--config', configFile, '--db', dbUrl, ...extra], {
      CAIRN_TRAINER: trainer,
      REDIS_URL: redis.url,
      CAIRN_QUEUE_PREFIX: redis.prefix,
      CAIRN_HOME: path.join(tmp, 'home'),
      CAIRN_BLOBS: blobsDir,
      CAIRN_BACKEND: '',
    });
    workers.push(w);
    return w;
  }

  async function submit(redis: TestRedis, epochs: number, attempts = 2): Promise<string> {
    const queues = new TierQueues(redis.connection, redis.prefix);
    try {
      return (await submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'nightly', dataset: 'iris', params: { epochs }, job: { attempts } })).runId;
    } finally {
      await queues.close();
    }
  }

  /** Epoch numbers the store holds for the run, in step order. */
  async function epochs(runId: string): Promise<number[]> {
    return (await store.getMetricSeries(runId, 'epoch', { maxPoints: 100_000 })).points.map((p) => p.value);
  }

  async function until(what: string, check: () => Promise<boolean>, ms = 120_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Every epoch 1..n exactly once, and every per-epoch metric with n points. */
  async function expectComplete(runId: string, n: number): Promise<void> {
    expect(await epochs(runId)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const run = await store.getRun(runId);
    for (const key of ['loss', 'acc', 'val_loss', 'val_acc']) expect(run.metrics[key]?.count, key).toBe(n);
  }

  it('a worker SIGKILLed mid-training: another takes the stalled job and resumes from the checkpoint; the run ends finished once, its attempts recorded', async () => {
    const redis = await testRedis();
    try {
      const n = 400;
      const runId = await submit(redis, n);
      const first = worker(redis, pg.url, ['--lock-ms', '4000']);
      await first.waitFor(new RegExp(`run ${runId} started \\(attempt 1/2\\)`));
      // Killed once a checkpoint is recorded and a few more epochs have run past it.
      await until('a checkpoint and some epochs', async () => (await store.listArtifacts(runId)).some((a) => a.path.startsWith('checkpoints/')) && (await epochs(runId)).length >= 20);
      first.proc.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      const before = await epochs(runId);
      expect((await store.getRun(runId)).status).toBe('running');

      const second = worker(redis, pg.url, ['--lock-ms', '4000']);
      await second.waitFor(new RegExp(`run ${runId} started \\(attempt 1/2`), 60_000);
      await second.waitFor(new RegExp(`run ${runId} finished in`), 180_000);

      const run = await store.getRun(runId);
      expect(run.status).toBe('finished');
      expect(run.attempts).toBe(2);
      const attempts = await store.listAttempts(runId);
      expect(attempts.map((a) => [a.attempt, a.workerId?.split(':')[1], a.outcome])).toEqual([
        [1, String(first.proc.pid), 'superseded'],
        [2, String(second.proc.pid), 'finished'],
      ]);
      expect(attempts[0]!.resumedFromStep).toBeNull();
      expect(attempts[1]!.resumedFromStep).toBeGreaterThan(0);
      // Resumed, not restarted: epoch 1 once, every epoch once, and more than the first worker got to.
      await expectComplete(runId, n);
      expect(before.length).toBeLessThan(n);
      // One ending: the job completed once, with the run finished by the second worker alone.
      expect(second.stderr().match(new RegExp(`run ${runId} finished`, 'g'))).toHaveLength(1);
      const queues = new TierQueues(redis.connection, redis.prefix);
      const job = await queues.get('nightly').getJob(runId);
      await queues.close();
      expect(await job?.getState()).toBe('completed');
      // Taken again as a stalled job, not as a retry: no attempt of the job's budget was spent.
      expect(job?.attemptsMade).toBe(1);
      second.proc.kill('SIGTERM');
      expect((await second.exitedWithin(60_000)).code).toBe(0);
    } finally {
      await redis.close();
    }
  }, 300_000);

  it('Redis killed and restarted during a run: the worker reconnects, the run completes and the waiting job runs too', async () => {
    // Its own redis-server, persistent as a queue's Redis must be (append-only file, fsync always).
    const redis = await testRedis({ persistent: true });
    try {
      const n = 300;
      const running = await submit(redis, n);
      const waiting = await submit(redis, 20);
      const w = worker(redis, pg.url);
      await w.waitFor(new RegExp(`run ${running} started`));
      await until('some epochs', async () => (await epochs(running)).length >= 20);
      await redis.server!.restart(2_000);
      expect((await store.getRun(running)).status).toBe('running');
      await w.waitFor(/Redis connection lost; reconnecting \(running jobs carry on\)\n.*Redis reconnected\n/, 30_000);
      await w.waitFor(new RegExp(`run ${running} finished in`), 180_000);
      await w.waitFor(new RegExp(`run ${waiting} finished in`), 120_000);
      // Said once each way, not once per failed command.
      expect(w.stderr()).not.toMatch(/ECONNREFUSED/);

      await expectComplete(running, n);
      await expectComplete(waiting, 20);
      const run = await store.getRun(running);
      expect(run.attempts).toBe(1); // carried on, never restarted
      const queues = new TierQueues(redis.connection, redis.prefix);
      for (const id of [running, waiting]) expect(await (await queues.get('nightly').getJob(id))?.getState()).toBe('completed');
      await queues.close();
      w.proc.kill('SIGTERM');
      expect((await w.exitedWithin(60_000)).code).toBe(0);
    } finally {
      await redis.close();
    }
  }, 300_000);

  it('Redis restarted without persistence: queued runs whose jobs were lost are queued again from the store', async () => {
    const redis = await testRedis({ private: true });
    try {
      const runId = await submit(redis, 5);
      const queues = new TierQueues(redis.connection, redis.prefix);
      try {
        await redis.server!.restart();
        expect(await queues.get('nightly').getJob(runId)).toBeUndefined(); // gone with the restart
      } finally {
        await queues.close();
      }
      const w = worker(redis, pg.url);
      await w.waitFor(new RegExp(`queued again 1 run whose job Redis had lost: ${runId}`), 30_000);
      await w.waitFor(new RegExp(`run ${runId} finished in`), 120_000);
      await expectComplete(runId, 5);
      w.proc.kill('SIGTERM');
      expect((await w.exitedWithin(60_000)).code).toBe(0);
    } finally {
      await redis.close();
    }
  }, 180_000);

  // Its timeout holds the sum of its waits' own deadlines (120 + 10 + 5 + 60 + 180 s), so a
  // stuck wait fails with the worker's log, not as a bare timeout.
  it('PostgreSQL unreachable for 10 s during a run: metrics are buffered and written afterwards, none lost or duplicated', async () => {
    const redis = await testRedis();
    const target = new URL(pg.url);
    let proxy: TcpProxy | undefined;
    try {
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const viaProxy = new URL(pg.url);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const n = 400;
      const runId = await submit(redis, n, 1);
      // On the default trainer (native-cpu where it built). Its fast writes once left the
      // worker's stop waiting forever in the store's close() after the cut (about 1 run in
      // 10 under load); close() now cuts a connection that never comes back
      // (libs/store/src/pool-release.postgres.test.ts), and the exit below has a deadline.
      const w = worker(redis, viaProxy.toString());
      await w.waitFor(new RegExp(`run ${runId} started`));
      await until('some epochs', async () => (await epochs(runId)).length >= 20).catch((e: Error) => {
        throw new Error(`${e.message}; the worker said: ${w.stderr()}`);
      });
      proxy.cut();
      const cutAt = (await epochs(runId)).length;
      await new Promise((r) => setTimeout(r, 10_000));
      // The store saw nothing new while cut off (the test's own store connects directly).
      expect((await epochs(runId)).length).toBe(cutAt);
      proxy.restore();
      await w.waitFor(/store unreachable \(PostgreSQL at .* cannot be reached/, 5_000);
      await w.waitFor(/store reachable again/, 60_000);
      await w.waitFor(new RegExp(`run ${runId} finished in`), 180_000);

      await expectComplete(runId, n);
      const run = await store.getRun(runId);
      expect(run.status).toBe('finished');
      expect(run.attempts).toBe(1); // the outage cost no attempt
      w.proc.kill('SIGTERM');
      expect((await w.exitedWithin(60_000)).code).toBe(0);
    } finally {
      await proxy?.close();
      await redis.close();
    }
  }, 420_000);
});
