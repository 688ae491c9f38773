import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBlobStore, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePipelineConfig, type PipelineConfigInput } from './config/index.ts';
import { TierQueues } from './queues.ts';
import { submitRun } from './submit.ts';
import { testRedis, type TestRedis } from './testing/redis.ts';
import { processRun } from './worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');

/**
 * Champion / challenger on real Iris runs: the nightly tier compares each finished run
 * with the version behind iris@champion on a metric and registers and promotes the run's
 * model only when it is better. The metric here is `epoch` (its last value is the number
 * of epochs trained), so which run wins is known in advance.
 */
describe('champion / challenger', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-champion-'));
  const home = path.join(tmp, 'home');
  let redis: TestRedis;
  let store: Store;
  let blobs: LocalBlobStore;
  let queues: TierQueues;

  beforeAll(async () => {
    redis = await testRedis();
    store = await openStore({ home });
    blobs = new LocalBlobStore(path.join(home, 'blobs'));
    queues = new TierQueues(redis.connection, redis.prefix);
    const snap = await snapshotDir(path.join(IRIS, 'data'), { store: blobs });
    await store.recordSnapshot({ dataset: 'iris', id: snap.id, fileCount: snap.files, bytes: snap.bytes });
  });
  afterAll(async () => {
    await queues?.close();
    await store?.close();
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function train(epochs: number, input: PipelineConfigInput) {
    const config = resolvePipelineConfig(input);
    const { runId } = await submitRun({ store, blobs, queues, file: path.join(IRIS, 'train.ts'), tier: 'nightly', dataset: 'iris', params: { epochs } });
    return processRun(runId, { store, blobs, home, queues, config, root: ROOT }, { attempt: 1, maxAttempts: 1 });
  }
  const champion = (extra: Record<string, unknown> = {}): PipelineConfigInput => ({ tiers: { nightly: { gate: "status = 'finished'", champion: { model: 'iris', metric: 'epoch', ...extra } } } });

  it('is off by default', async () => {
    const r = await train(2, { tiers: { nightly: { gate: "status = 'finished'" } } });
    expect(r.status).toBe('finished');
    expect(r.champion).toBeUndefined();
    expect(await store.listModels()).toEqual([]);
  }, 120_000);

  it('crowns the first run, keeps the champion against a worse one, promotes a better one, and records why', async () => {
    const first = await train(4, champion());
    expect(first.champion).toMatchObject({ decision: 'first', metric: 'epoch', challenger: 4, version: 1 });
    expect((await store.resolveModelVersion('iris', 'champion')).runId).toBe(first.runId);

    const worse = await train(3, champion());
    expect(worse.champion).toMatchObject({ decision: 'kept', challenger: 3, champion: 4 });
    expect((await store.getPipelineDecisions(worse.runId)).champion).toEqual([
      expect.objectContaining({ tier: 'nightly', decision: 'kept', model: 'iris', alias: 'champion', metric: 'epoch', challenger: 3, champion: 4, version: null, detail: 'epoch 3 does not beat iris@champion (v1, 4)' }),
    ]);
    // Recorded as the pipeline's decision, not as tags a user could edit.
    expect((await store.getRun(worse.runId)).tags.champion).toBeUndefined();

    const better = await train(6, champion());
    expect(better.champion).toMatchObject({ decision: 'promoted', challenger: 6, champion: 4, version: 2 });
    const v = await store.resolveModelVersion('iris', 'champion');
    expect(v).toMatchObject({ version: 2, runId: better.runId });
    expect((await store.getPipelineDecisions(better.runId)).champion).toMatchObject([{ decision: 'promoted', version: 2, detail: 'epoch 6 beats 4 of v1: iris@champion → v2' }]);

    // Better, but not by the margin asked for.
    const marginal = await train(7, champion({ minImprovement: 2 }));
    expect(marginal.champion).toMatchObject({ decision: 'kept', challenger: 7, champion: 6 });
    // Lower is better when the direction says so.
    const fewer = await train(5, champion({ direction: 'minimize' }));
    expect(fewer.champion).toMatchObject({ decision: 'promoted', version: 3 });

    expect((await store.aliasHistory('iris', 'champion')).map((m) => m.version)).toEqual([1, 2, 3]);
    expect((await store.getModel('iris')).versions.map((x) => x.runId)).toEqual([fewer.runId, better.runId, first.runId]);
  }, 300_000);

  it('refuses a bad champion config with the path of the problem', () => {
    expect(() => resolvePipelineConfig({ tiers: { nightly: { champion: { model: '../x' } } } })).toThrow(/tiers\.nightly\.champion\.model/);
    expect(() => resolvePipelineConfig({ tiers: { nightly: { champion: { model: 'iris', alias: 'latest' } } } })).toThrow(/tiers\.nightly\.champion\.alias/);
    expect(() => resolvePipelineConfig({ tiers: { nightly: { champion: { model: 'iris', minImprovement: -1 } } } })).toThrow(/tiers\.nightly\.champion\.minImprovement/);
    expect(resolvePipelineConfig(champion()).tiers.nightly.champion).toEqual({ model: 'iris', alias: 'champion', metric: 'epoch', minImprovement: 0 });
  });
});
