import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '@cairn/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePipelineConfig } from './config/index.ts';
import { TierQueues } from './queues.ts';
import { createQueuedRun } from './queued-run.ts';
import { testRedis, type TestRedis } from './testing/redis.ts';
import { requeueLostJobs } from './worker.ts';

/**
 * Redis lost a queued run's job (restarted without persistence, failed over): the workers
 * of the prefix the pipeline queued it on queue it again, whatever an editor did to the
 * run's tags, and the workers of another prefix never take it.
 */
describe('requeueLostJobs', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-requeue-'));
  const config = resolvePipelineConfig({});
  let redis: TestRedis;
  let store: Store;
  let ours: TierQueues;
  let theirs: TierQueues;
  let experimentId: string;

  beforeAll(async () => {
    redis = await testRedis();
    store = await openStore({ home: path.join(tmp, 'home') });
    ours = new TierQueues(redis.connection, redis.prefix);
    // Another team's workers on the same Redis (a prefix of its own, cleaned up with ours).
    theirs = new TierQueues(redis.connection, `${redis.prefix}-other`);
    experimentId = (await store.ensureExperiment({ name: 'requeue' })).id;
  });
  afterAll(async () => {
    for (const q of [ours, theirs]) {
      await Promise.all(q?.all().map((x) => x.obliterate({ force: true })) ?? []);
      await q?.close();
    }
    await store?.close();
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A run queued by the pipeline on our prefix, whose job Redis then lost. */
  async function queuedThenLost(): Promise<string> {
    const run = await createQueuedRun({
      store,
      queues: ours,
      experimentId,
      tier: 'ci',
      code: { gitSha: null, gitDirty: null, codeHash: 'a'.repeat(64) },
      snapshotIds: [],
      params: { lr: 0.1 },
      tags: { definition: 'iris-mlp' },
    });
    const job = await ours.get('ci').getJob(run.id);
    expect(job).toBeDefined();
    await job!.remove();
    return run.id;
  }

  const jobIn = async (q: TierQueues, id: string) => Boolean(await q.get('ci').getJob(id));

  it("queues a lost job again on its own prefix when an editor moved the run's queue tag to another prefix", async () => {
    const id = await queuedThenLost();
    // What an editor can do through the portal or the ingest API: tags are theirs.
    await store.setTags(id, { queue: theirs.prefix });

    expect(await requeueLostJobs({ store, queues: theirs, config })).not.toContain(id);
    expect(await jobIn(theirs, id)).toBe(false);

    expect(await requeueLostJobs({ store, queues: ours, config })).toContain(id);
    expect(await jobIn(ours, id)).toBe(true);
    expect(await jobIn(theirs, id)).toBe(false);
  });

  it('queues a lost job again when an editor deleted the queue tag', async () => {
    const id = await queuedThenLost();
    await store.deleteTag(id, 'queue');
    expect(await requeueLostJobs({ store, queues: ours, config })).toContain(id);
    expect(await jobIn(ours, id)).toBe(true);
  });

  it('queues nothing twice: a job still in Redis stays as it is', async () => {
    const id = await queuedThenLost();
    expect(await requeueLostJobs({ store, queues: ours, config })).toContain(id);
    expect(await requeueLostJobs({ store, queues: ours, config })).not.toContain(id);
  });

  it('never queues a run the pipeline did not queue, whatever its tags say', async () => {
    // A tracking client may create a run `queued` with any tags; no worker should train it.
    const forged = await store.createRun({ experimentId, status: 'queued', tier: 'ci', tags: { queue: ours.prefix } });
    expect(await requeueLostJobs({ store, queues: ours, config })).not.toContain(forged.id);
    expect(await jobIn(ours, forged.id)).toBe(false);
  });

  it('leaves ended runs alone', async () => {
    const id = await queuedThenLost();
    await store.endRun(id, 'cancelled', 'cancelled before it started');
    expect(await requeueLostJobs({ store, queues: ours, config })).not.toContain(id);
    expect(await jobIn(ours, id)).toBe(false);
  });
});
