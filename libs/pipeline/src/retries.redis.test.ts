import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePipelineConfig } from './config/index.ts';
import { TierQueues } from './queues.ts';
import { submitRun } from './submit.ts';
import { testRedis, type TestRedis } from './testing/redis.ts';
import { startWorkers, type WorkerPool } from './worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS_DATA = path.join(ROOT, 'examples/iris-mlp/data');
const THROWING = fileURLToPath(new URL('./fixtures/throwing/train.ts', import.meta.url));

/**
 * A training module that throws: the run fails with the module's error after exactly the
 * tier's attempts, each one waiting out the tier's backoff (no retry storm), every
 * attempt recorded on the run.
 */
describe('a training module that throws', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-retries-'));
  let redis: TestRedis;
  let store: Store;
  let blobs: LocalBlobStore;
  let queues: TierQueues;
  let pool: WorkerPool | undefined;
  const config = resolvePipelineConfig({ tiers: { ci: { gate: null, promotesTo: null, retry: { attempts: 3, backoffMs: 400, strategy: 'exponential' } } } });

  beforeAll(async () => {
    redis = await testRedis();
    store = await openStore({ home: path.join(tmp, 'home') });
    blobs = new LocalBlobStore(path.join(tmp, 'home', 'blobs'));
    queues = new TierQueues(redis.connection, redis.prefix);
    const snap = await snapshotDir(IRIS_DATA, { store: blobs });
    await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
  });
  afterAll(async () => {
    await pool?.close();
    await queues?.close();
    await store?.close();
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('fails the run with its error after the tier’s attempts, backing off between them', async () => {
    const { runId } = await submitRun({ store, blobs, queues, file: THROWING, tier: 'ci', dataset: 'iris', job: { attempts: config.tiers.ci.retry.attempts, backoffMs: 400, strategy: 'exponential' } });
    const failed: string[] = [];
    pool = await startWorkers({ store, blobs, home: path.join(tmp, 'home'), queues, config, connection: redis.connection, prefix: redis.prefix, tierList: ['ci'], root: ROOT, sweepIntervalMs: 0, workerId: 'test:1', onError: (id, e) => id === runId && failed.push(e.message) });

    const job = () => queues.get('ci').getJob(runId);
    const deadline = Date.now() + 120_000;
    while ((await (await job())?.getState()) !== 'failed') {
      if (Date.now() > deadline) throw new Error(`job not failed in time: ${failed.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const j = (await job())!;
    expect(j.attemptsMade).toBe(3);
    expect(j.failedReason).toMatch(/boom: hiddenUnits must be positive/);
    expect(failed).toHaveLength(3);
    expect(failed.slice(0, 2).every((m) => /^attempt [12] of 3 failed: .*boom/.test(m))).toBe(true);

    const run = await store.getRun(runId);
    expect(run.status).toBe('failed');
    expect(run.statusReason).toMatch(/boom: hiddenUnits must be positive/);
    // Every attempt recorded by the pipeline, in the schema (not in tags anyone can edit).
    expect(run.attempts).toBe(3);
    expect(run.tags.attempts).toBeUndefined();
    const attempts = await store.listAttempts(runId);
    expect(attempts.map((a) => [a.attempt, a.workerId, a.outcome])).toEqual([
      [1, 'test:1', 'retried'],
      [2, 'test:1', 'retried'],
      [3, 'test:1', 'failed'],
    ]);
    for (const a of attempts) expect(a.detail).toMatch(/boom: hiddenUnits must be positive/);
    // Backed off as the tier says: 400 ms, then 800 ms, between attempts.
    const starts = attempts.map((a) => a.startedAt.getTime());
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(400);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(800);

    // And nothing more happens: no fourth attempt.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await job())?.attemptsMade).toBe(3);
    expect((await store.getRun(runId)).attempts).toBe(3);
  }, 180_000);
});
