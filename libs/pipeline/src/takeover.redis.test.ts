import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError } from '@cairn/schema';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { resolvePipelineConfig } from './config/index.ts';
import { TierQueues } from './queues.ts';
import { submitRun } from './submit.ts';
import { testRedis, type TestRedis } from './testing/redis.ts';
import { TrainingThread } from './training-thread.ts';
import { processRun, type WorkerDeps } from './worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');

/**
 * processRun when another attempt takes its run over mid-training (as a worker whose lock
 * expired finds when it comes back): the store refuses its writes, it stops training, and
 * it neither ends, fails nor promotes the run. Embedded store, Redis for the queues.
 */
describe('a run taken over while a worker trains it', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-takeover-'));
  const home = path.join(tmp, 'home');
  let store: Store;
  let blobs: LocalBlobStore;
  let redis: TestRedis;
  let queues: TierQueues;
  const thread = new TrainingThread();
  const config = resolvePipelineConfig({ tiers: { nightly: { gate: "status = 'finished'", promotesTo: 'weekly', schedule: null, candidatesFrom: null } } });

  beforeAll(async () => {
    redis = await testRedis();
    store = await openStore({ home });
    blobs = new LocalBlobStore(path.join(home, 'blobs'));
    queues = new TierQueues(redis.connection, redis.prefix);
    const snap = await snapshotDir(path.join(IRIS, 'data'), { store: blobs });
    await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
  });
  afterAll(async () => {
    await thread.close();
    await queues?.close();
    await store?.close();
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('stops at the takeover and writes nothing more: no end, no failure, no promotion', async () => {
    const { runId } = await submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'nightly', dataset: 'iris', params: { epochs: 3000 }, job: { attempts: 1 } });
    const deps: WorkerDeps = { store, blobs, home, queues, config, root: ROOT, workerId: 'test:1', backend: 'cpu', thread };
    const processing = processRun(runId, deps, { attempt: 1, maxAttempts: 1 });
    const epochs = async () => (await store.getMetricSeries(runId, 'epoch', { maxPoints: 100_000 })).points.map((p) => p.value);
    for (const deadline = Date.now() + 120_000; !(await store.listArtifacts(runId)).some((a) => a.path.startsWith('checkpoints/')); ) {
      if (Date.now() > deadline) throw new Error('no checkpoint');
      await new Promise((r) => setTimeout(r, 50));
    }
    const { attempt } = await store.claimRun(runId, { workerId: 'other:2' });
    expect(attempt).toBe(2);
    const atTakeover = await epochs();
    const artifactsAtTakeover = await store.listArtifacts(runId);

    const result = await processing;
    expect(result.takenOver).toBeInstanceOf(FencedError);
    expect(result.takenOver).toMatchObject({ runId, attempt: 1, current: 2 });
    expect(result.status).toBe('skipped');
    // It trained on past the takeover (3000 epochs take minutes) only until a write was refused.
    const run = await store.getRun(runId);
    expect(run.status).toBe('running');
    expect(await epochs()).toEqual(atTakeover);
    expect(await store.listArtifacts(runId)).toEqual(artifactsAtTakeover);
    expect(run.tags.gate).toBeUndefined();
    expect((await store.searchRuns({ filter: `tags.promoted_from = '${runId}'` })).runs).toEqual([]);
    expect((await store.listAttempts(runId)).map((a) => [a.attempt, a.workerId, a.outcome])).toEqual([
      [1, 'test:1', 'superseded'],
      [2, 'other:2', null],
    ]);
  }, 180_000);
});
