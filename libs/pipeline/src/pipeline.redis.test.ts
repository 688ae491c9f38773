import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TierQueues } from './queues.ts';
import { RedisUnavailableError, connectRedis } from './redis.ts';
import { submitRun } from './submit.ts';
import { testRedis, type TestRedis } from './testing/redis.ts';
import { resolvePipelineConfig } from './config/index.ts';
import { cancelRun } from './cancel.ts';
import { startWorkers, type ProcessResult, type WorkerPool } from './worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');

/**
 * The queue path end to end against real Redis and an embedded store: submit bundles
 * the Iris example and queues a ci run; a worker trains it, evaluates the ci gate and
 * promotes it to extended by itself; the extended run trains too.
 */
describe('submit → worker → gate → promotion', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-pipeline-'));
  let redis: TestRedis;
  let store: Store;
  let blobs: LocalBlobStore;
  let queues: TierQueues;
  let pool: WorkerPool | undefined;
  const results: ProcessResult[] = [];
  const failures: { runId: string; message: string }[] = [];
  // A ci gate the Iris MLP passes, promoting to extended; extended's gate it does not pass.
  const config = resolvePipelineConfig({
    tiers: {
      ci: { subset: 1, epochs: 3, gate: "status = 'finished' and metrics.val_acc >= 0.5", retry: { attempts: 2, backoffMs: 100 } },
      extended: { subset: 1, epochs: 2, gate: 'metrics.val_acc >= 0.99', retry: { attempts: 1, backoffMs: 100 } },
    },
  });

  beforeAll(async () => {
    redis = await testRedis();
    store = await openStore({ home: path.join(tmp, 'home') });
    blobs = new LocalBlobStore(path.join(tmp, 'home', 'blobs'));
    queues = new TierQueues(redis.connection, redis.prefix);
    const snap = await snapshotDir(path.join(IRIS, 'data'), { store: blobs });
    await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
  });
  afterAll(async () => {
    await pool?.close();
    await queues?.close();
    await store?.close();
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function waitFor(predicate: () => boolean, ms = 150_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out; results so far: ${JSON.stringify(results)}; failures: ${JSON.stringify(failures)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('queues a submitted run with its code bundle, snapshot and params, then trains, gates and promotes it', async () => {
    const submitted = await submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'ci', dataset: 'iris', params: { hiddenUnits: 8 } });
    const queued = await store.getRun(submitted.runId);
    expect(queued).toMatchObject({ status: 'queued', tier: 'ci', codeHash: submitted.codeHash, snapshotIds: [submitted.snapshotId] });
    expect(queued.params.hiddenUnits).toBe('8');
    expect(new TextDecoder().decode(await blobs.get(submitted.codeHash))).toContain('iris-mlp');
    expect((await queues.get('ci').getJob(submitted.runId))?.data).toEqual({ runId: submitted.runId });

    pool = await startWorkers({
      store,
      blobs,
      home: path.join(tmp, 'home'),
      queues,
      config,
      connection: redis.connection,
      prefix: redis.prefix,
      tierList: ['ci', 'extended'],
      root: ROOT,
      onResult: (r) => results.push(r),
      onError: (runId, e) => failures.push({ runId, message: e.message }),
    });
    await waitFor(() => results.length >= 2);
    const [ci, extended] = results;
    expect(ci).toMatchObject({ runId: submitted.runId, status: 'finished', gate: { passed: true } });
    // The Iris definition's own extended settings (60 epochs, plateau policy) apply on top of the tier's.
    expect(extended!.runId).toBe(ci!.promoted);
    expect(['finished', 'abandoned']).toContain(extended!.status);

    const ciRun = await store.getRun(submitted.runId);
    expect(await store.listGateResults({ runIds: [submitted.runId] })).toEqual([expect.objectContaining({ tier: 'ci', passed: true, expression: ci!.gate!.expression })]);
    expect(ci!.gate!.values).toEqual({ status: 'finished', 'metrics.val_acc': ciRun.metrics.val_acc!.last });
    // The definition's own ci settings (30 epochs) win over the operator's (3).
    expect(ciRun.metrics.val_acc?.count).toBe(30);
    const next = await store.getRun(ci!.promoted!);
    expect(next).toMatchObject({ tier: 'extended', status: extended!.status, codeHash: submitted.codeHash, snapshotIds: [submitted.snapshotId] });
    expect(next.params).toEqual(ciRun.params);
    expect(next.tags.promoted_from).toBe(submitted.runId);
    const down = await store.lineage({ kind: 'run', id: submitted.runId }, { direction: 'downstream' });
    expect(down.edges.some((e) => e.relation === 'promoted_to' && e.to.id === next.id)).toBe(true);
  }, 180_000);

  it('fails a malformed job at once and does not retry it', async () => {
    await queues.enqueue('ci', '00000000-0000-7000-8000-000000000000', { attempts: 3 });
    await waitFor(() => failures.some((f) => f.runId === '00000000-0000-7000-8000-000000000000'));
    const job = await queues.get('ci').getJob('00000000-0000-7000-8000-000000000000');
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/does not exist/);
  });

  it('cancels a queued run: its job is removed and the run ends cancelled', async () => {
    await pool?.close();
    pool = undefined;
    const submitted = await submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'ci', dataset: 'iris' });
    expect(await cancelRun(submitted.runId, { store, queues, connection: redis.connection, prefix: redis.prefix })).toBe('removed');
    expect(await queues.get('ci').getJob(submitted.runId)).toBeUndefined();
    expect((await store.getRun(submitted.runId)).status).toBe('cancelled');
  });

  it('refuses to queue a run with bad params or no data, before creating anything', async () => {
    const before = (await store.searchRuns({})).runs.length;
    await expect(submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'ci', dataset: 'iris', params: { epochs: 'x' } })).rejects.toThrow(/invalid params for iris-mlp: epochs/);
    await expect(submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'ci' })).rejects.toThrow(/needs its data pinned/);
    expect((await store.searchRuns({})).runs.length).toBe(before);
  });
});

describe('connectRedis', () => {
  it('fails fast with what to do when nothing answers', async () => {
    const t = Date.now();
    const err = await connectRedis('redis://127.0.0.1:1', { timeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:1 is not answering .*start one/);
    expect(Date.now() - t).toBeLessThan(5_000);
  });
});
