import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TierQueues, cancelChannel, listSchedules, listWorkerBeats, scheduleQueue, submitRun } from '@cairn/pipeline';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { testRedis, type TestRedis } from '../../../libs/pipeline/src/testing/redis.ts';
import { startWorkerProcess, type WorkerProcess } from './test-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');

/**
 * The worker process end to end on an embedded store (which it hosts while it runs): a
 * run is submitted while no worker runs, then a `cairn-worker` process trains it, serves
 * Prometheus metrics that count it, and exits 0 on SIGTERM.
 */
describe('cairn-worker process', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-worker-'));
  const home = path.join(tmp, 'home');
  const configFile = path.join(tmp, 'cairn.config.ts');
  let redis: TestRedis;
  let runId = '';

  beforeAll(async () => {
    redis = await testRedis();
    fs.writeFileSync(configFile, `export default { tiers: { ci: { gate: "status = 'finished' and metrics.val_acc >= 0.5", promotesTo: null } } };\n`);
    const store = await openStore({ home });
    try {
      const blobs = new LocalBlobStore(path.join(home, 'blobs'));
      const snap = await snapshotDir(path.join(IRIS, 'data'), { store: blobs });
      await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
      const queues = new TierQueues(redis.connection, redis.prefix);
      runId = (await submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'ci', dataset: 'iris' })).runId;
      await queues.close();
    } finally {
      await store.close();
    }
  });
  afterAll(async () => {
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const env = () => ({ REDIS_URL: redis.url, CAIRN_QUEUE_PREFIX: redis.prefix, CAIRN_HOME: home, CAIRN_BLOBS: '', CAIRN_BACKEND: '' });

  it('trains the queued run, counts it in /metrics, and exits 0 on SIGTERM', async () => {
    const w = startWorkerProcess(['--tiers', 'ci', '--metrics-port', '0', '--config', configFile], env());
    try {
      const [, url] = await w.waitFor(/metrics (http:\/\/\S+)/);
      await w.waitFor(new RegExp(`\\[ci\\] run ${runId} finished in [\\d.]+ s; gate passed: status=finished, metrics\\.val_acc=`), 120_000);
      expect(w.stderr()).toMatch(new RegExp(`\\[ci\\] run ${runId} started \\(attempt 1/1\\)`));

      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const body = await res.text();
      expect(body).toMatch(/^# TYPE cairn_worker_jobs_total counter$/m);
      expect(body).toMatch(/^cairn_worker_jobs_total\{tier="ci",status="finished"\} 1$/m);
      expect(body).toMatch(/^cairn_worker_job_duration_seconds_count\{tier="ci",status="finished"\} 1$/m);
      expect(body).toMatch(/^cairn_worker_gates_total\{tier="ci",verdict="passed"\} 1$/m);
      expect(body).toMatch(/^cairn_worker_jobs_running\{tier="ci"\} 0$/m);
      expect(body).toMatch(/^cairn_worker_examples_per_second\{tier="ci"\} \d+(\.\d+)?(e[+-]?\d+)?$/m);
      expect(body).toMatch(/^cairn_queue_jobs\{tier="ci",state="completed"\} 1$/m);
      expect(body).toMatch(/^cairn_worker_process_resident_memory_bytes /m);
      expect((await fetch(url!.replace(/\/metrics$/, '/nope'))).status).toBe(404);

      // Its heartbeat names it and what it consumes.
      const beats = await listWorkerBeats(redis.connection, redis.prefix);
      expect(beats).toHaveLength(1);
      expect(beats[0]).toMatchObject({ tiers: ['ci'], pid: w.proc.pid, running: [] });

      // It hosts the embedded store: another process opens it meanwhile, through the worker.
      expect(w.stderr()).toMatch(/store \S+ \(embedded, shared by this worker on postgres:\/\/cairn:\*\*\*@127\.0\.0\.1:\d+\/cairn\)/);
      const during = await openStore({ home });
      try {
        expect((await during.getRun(runId)).status).toBe('finished');
      } finally {
        await during.close();
      }

      w.proc.kill('SIGTERM');
      expect(await w.exited).toEqual({ code: 0, signal: null });
      expect(fs.existsSync(path.join(home, 'host.json'))).toBe(false);
      expect(w.stderr()).toMatch(/SIGTERM: taking no more jobs.*\n.*stopped\n$/);
      expect(await listWorkerBeats(redis.connection, redis.prefix)).toEqual([]);
    } finally {
      w.proc.kill('SIGKILL');
    }
    const store = await openStore({ home });
    try {
      const run = await store.getRun(runId);
      expect(run.status).toBe('finished');
      expect(await store.listGateResults({ runIds: [runId] })).toMatchObject([{ tier: 'ci', passed: true }]);
    } finally {
      await store.close();
    }
  }, 180_000);

  it('exits 0 on SIGTERM while idle, and registers the schedules of the tiers it consumes', async () => {
    const w = startWorkerProcess(['--tiers', 'ci,nightly', '--config', configFile], env());
    try {
      await w.waitFor(/schedules nightly '0 2 \* \* \*' UTC/);
      const q = scheduleQueue(redis.connection, redis.prefix);
      const registered = await listSchedules(q);
      await q.close();
      expect(registered).toEqual([{ tier: 'nightly', pattern: '0 2 * * *', timezone: 'UTC', next: expect.any(Date), iterations: expect.any(Number) }]);
      w.proc.kill('SIGTERM');
      expect(await w.exited).toEqual({ code: 0, signal: null });
    } finally {
      w.proc.kill('SIGKILL');
    }
  }, 60_000);

  it('on SIGTERM mid-run hands the job back (checkpointed, the run still running); the next worker resumes it', async () => {
    // A long nightly run of the Iris MLP (2000 epochs of 8 steps).
    let longRun = '';
    let store = await openStore({ home });
    try {
      const blobs = new LocalBlobStore(path.join(home, 'blobs'));
      const queues = new TierQueues(redis.connection, redis.prefix);
      longRun = (await submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'nightly', dataset: 'iris', params: { epochs: 2000 }, job: { attempts: 1 } })).runId;
      await queues.close();
    } finally {
      await store.close();
    }
    // Blobs are files named by the rest of their hash under a two-hex-digit folder.
    const blobCount = () => fs.readdirSync(path.join(home, 'blobs'), { recursive: true }).filter((f) => /^[0-9a-f]{2}[/\\][0-9a-f]{62}$/.test(String(f))).length;
    const newBlob = async (after: number, w: WorkerProcess) => {
      for (const deadline = Date.now() + 120_000; blobCount() <= after; ) {
        if (Date.now() > deadline) throw new Error(`no new checkpoint: ${w.stderr()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const first = startWorkerProcess(['--tiers', 'nightly', '--config', configFile], env());
    try {
      const blobsAtStart = blobCount();
      await first.waitFor(new RegExp(`\\[nightly\\] run ${longRun} started \\(attempt 1/1\\)`), 60_000);
      // Mid-training: once it has written a checkpoint (a new blob; the store is the worker's).
      await newBlob(blobsAtStart, first);
      first.proc.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      expect(first.stderr()).toMatch(new RegExp(`\\[nightly\\] run ${longRun} handed back to the queue; it resumes from its last checkpoint\\n.*stopped \\(1 job handed back\\)\\n$`));
    } finally {
      first.proc.kill('SIGKILL');
    }
    // Back in the queue without spending its only attempt; the run stays running with a checkpoint.
    const queues = new TierQueues(redis.connection, redis.prefix);
    const job = await queues.get('nightly').getJob(longRun);
    await queues.close();
    expect(await job?.getState()).toBe('waiting');
    expect(job?.attemptsMade).toBe(0);
    store = await openStore({ home });
    let firstEpochs: number[];
    try {
      expect((await store.getRun(longRun)).status).toBe('running');
      expect((await store.listArtifacts(longRun)).some((a) => a.path.startsWith('checkpoints/'))).toBe(true);
      // The attempt says it was handed back; the run is free for the next one.
      expect((await store.listAttempts(longRun)).map((a) => [a.attempt, a.outcome])).toEqual([[1, 'handed_back']]);
      firstEpochs = (await store.getMetricSeries(longRun, 'epoch', { maxPoints: 100_000 })).points.map((p) => p.value);
    } finally {
      await store.close();
    }
    expect(firstEpochs.length).toBeGreaterThan(0);

    const second = startWorkerProcess(['--tiers', 'nightly', '--config', configFile], env());
    try {
      const blobsBefore = blobCount();
      await second.waitFor(new RegExp(`\\[nightly\\] run ${longRun} started`), 60_000);
      // Trained on after resuming: a new checkpoint blob (the store is this worker's alone,
      // but the blob store is plain files), so the epochs before it are stored too.
      await newBlob(blobsBefore, second);
      // cairn cancel, without the store (this worker holds it): the cancel channel.
      await redis.connection.publish(cancelChannel(redis.prefix), longRun);
      await second.waitFor(new RegExp(`\\[nightly\\] run ${longRun} cancelled`), 60_000);
      second.proc.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
    } finally {
      second.proc.kill('SIGKILL');
    }
    store = await openStore({ home });
    try {
      const run = await store.getRun(longRun);
      expect(run.status).toBe('cancelled');
      expect((await store.listAttempts(longRun)).map((a) => [a.attempt, a.outcome, a.resumedFromStep !== null])).toEqual([
        [1, 'handed_back', false],
        [2, 'cancelled', true],
      ]);
      const epochs = (await store.getMetricSeries(longRun, 'epoch', { maxPoints: 100_000 })).points.map((p) => p.value);
      // Resumed, not restarted: the second worker's epochs carry on from the checkpoint.
      expect(epochs.filter((e) => e === 1)).toHaveLength(1);
      expect(epochs.length).toBeGreaterThan(firstEpochs.length);
      expect(Math.max(...epochs)).toBeGreaterThan(Math.max(...firstEpochs));
    } finally {
      await store.close();
    }
  }, 240_000);

  it('fails fast with what to do when Redis does not answer, and refuses a bad tier', async () => {
    const t = Date.now();
    const w = startWorkerProcess([], { ...env(), REDIS_URL: 'redis://127.0.0.1:1' });
    expect((await w.exited).code).toBe(1);
    expect(w.stderr()).toMatch(/^cairn-worker: Redis at redis:\/\/127\.0\.0\.1:1 is not answering .*start one/m);
    expect(Date.now() - t).toBeLessThan(20_000);
    const bad = startWorkerProcess(['--tiers', 'ci,hourly'], env());
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toMatch(/unknown tier 'hourly': the tiers are ci, extended, nightly, weekly/);
  }, 60_000);
});
