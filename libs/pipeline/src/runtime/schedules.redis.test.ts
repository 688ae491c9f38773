import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@cairn/store';
import { resolvePipelineConfig } from '../config/index.ts';
import { applyGate } from '../gates.ts';
import { TierQueues } from '../queues.ts';
import { testRedis, type TestRedis } from '../testing/redis.ts';
import { fireSchedule, listSchedules, registerSchedules, scheduleQueue } from './schedules.ts';

/**
 * Scheduled tiers fire by queueing a run for the newest code whose run of candidatesFrom
 * passed its gate, per experiment, on the snapshot the tier asks for.
 */
describe('fireSchedule', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-schedule-'));
  let redis: TestRedis;
  let store: Store;
  let queues: TierQueues;
  const config = resolvePipelineConfig({});
  const code = (n: number) => n.toString(16).padStart(64, '0');

  beforeAll(async () => {
    redis = await testRedis();
    store = await openStore({ home: path.join(tmp, 'home') });
    queues = new TierQueues(redis.connection, redis.prefix);
  });
  afterAll(async () => {
    await queues?.close();
    await store?.close();
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function candidate(experiment: string, codeHash: string, snapshot: string, gate: 'passed' | 'failed'): Promise<string> {
    const exp = await store.ensureExperiment({ name: experiment });
    const run = await store.createRun({ experimentId: exp.id, tier: 'extended', code: { codeHash }, snapshotIds: [snapshot], params: { lr: 0.1 }, tags: { definition: experiment, module: 'train.ts' } });
    await store.endRun(run.id, 'finished');
    // The pipeline's own verdict: a gate that this finished run passes, or one it fails.
    await applyGate(store, run.id, gate === 'passed' ? "status = 'finished'" : "status = 'failed'", 'extended');
    return run.id;
  }

  it('queues the newest passing candidate of each experiment once, pinned or on the latest snapshot', async () => {
    const s1 = 'a'.repeat(64);
    const s2 = 'b'.repeat(64);
    await store.recordSnapshot({ dataset: 'iris', id: s1, fileCount: 1, bytes: 1 });
    const older = await candidate('iris-mlp', code(1), s1, 'passed');
    await new Promise((r) => setTimeout(r, 20));
    const newest = await candidate('iris-mlp', code(2), s1, 'passed');
    await new Promise((r) => setTimeout(r, 20));
    await candidate('iris-mlp', code(3), s1, 'failed');
    const other = await candidate('digits', code(4), s1, 'passed');

    const fired = await fireSchedule('nightly', { store, queues, config });
    expect(fired.created.map((c) => c.candidate).sort()).toEqual([newest, other].sort());
    expect(fired.created.every((c) => c.snapshotId === s1)).toBe(true);
    const created = await store.getRun(fired.created.find((c) => c.candidate === newest)!.runId);
    expect(created).toMatchObject({ status: 'queued', tier: 'nightly', codeHash: code(2), snapshotIds: [s1], params: { lr: '0.1' } });
    expect(created.tags).toMatchObject({ promoted_from: newest, scheduled: 'true', definition: 'iris-mlp' });
    expect((await queues.get('nightly').getJob(created.id))?.opts).toMatchObject({ attempts: 3, priority: 3 });
    expect(older).not.toBe(newest);

    // Firing again without new code or data trains nothing twice.
    const again = await fireSchedule('nightly', { store, queues, config });
    expect(again.created).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/^already trained on this data by run /), expect.stringMatching(/^already trained/)]);

    // weekly trains on the dataset's newest snapshot.
    await store.recordSnapshot({ dataset: 'iris', id: s2, fileCount: 2, bytes: 2 });
    const weekly = await fireSchedule('weekly', { store, queues, config });
    expect(weekly.created.map((c) => c.snapshotId)).toEqual([s2, s2]);

    // A tier that takes no candidates says so.
    expect((await fireSchedule('ci', { store, queues, config })).note).toMatch(/takes no candidates/);
  });

  it("takes no candidate from a user's gate tag: an abandoned run, or one that failed its gate, tagged gate = passed by an editor", async () => {
    const snapshot = 'e'.repeat(64);
    const exp = await store.ensureExperiment({ name: 'forged' });
    // Abandoned by its policies: never gated. Then an editor tags it (runs.setTags and the
    // ingest API's tags route both call store.setTags).
    const abandoned = await store.createRun({ experimentId: exp.id, tier: 'extended', code: { codeHash: code(40) }, snapshotIds: [snapshot], tags: { definition: 'forged' } });
    await store.endRun(abandoned.id, 'abandoned', 'trend: val_acc heading the wrong way');
    await store.setTags(abandoned.id, { gate: 'passed', 'gate.tier': 'extended' });
    // Finished, but failed its gate; the editor overwrites the verdict's tag.
    const failed = await store.createRun({ experimentId: exp.id, tier: 'extended', code: { codeHash: code(41) }, snapshotIds: [snapshot], tags: { definition: 'forged' } });
    await store.endRun(failed.id, 'finished');
    await applyGate(store, failed.id, 'metrics.val_acc >= 0.99', 'extended');
    await store.setTags(failed.id, { gate: 'passed', 'gate.tier': 'extended' });

    const fired = await fireSchedule('nightly', { store, queues, config });
    expect(fired.created.filter((c) => c.candidate === abandoned.id || c.candidate === failed.id)).toEqual([]);
    expect(fired.skipped.filter((s) => s.candidate === abandoned.id || s.candidate === failed.id)).toEqual([]);
    const nightly = await store.searchRuns({ filter: `tier = 'nightly' AND experiment = '${exp.id}'` });
    expect(nightly.runs).toEqual([]);
  });

  it("remembers what it trained by the pipeline's lineage, not by a tag: an edited promoted_from neither repeats nor blocks a candidate", async () => {
    const snapshot = 'f'.repeat(64);
    const a = await candidate('memory-a', code(50), snapshot, 'passed');
    const b = await candidate('memory-b', code(51), snapshot, 'passed');
    const first = await fireSchedule('nightly', { store, queues, config });
    const made = new Map(first.created.filter((c) => c.candidate === a || c.candidate === b).map((c) => [c.candidate, c.runId]));
    expect([...made.keys()].sort()).toEqual([a, b].sort());
    // An editor drops the tag from a's nightly run, and points b's at another run.
    await store.deleteTag(made.get(a)!, 'promoted_from');
    await store.setTags(made.get(b)!, { promoted_from: a });
    const again = await fireSchedule('nightly', { store, queues, config });
    expect(again.created.filter((c) => c.candidate === a || c.candidate === b)).toEqual([]);
    expect(again.skipped.filter((s) => s.candidate === a || s.candidate === b).map((s) => s.reason)).toEqual([
      expect.stringMatching(/^already trained on this data by run /),
      expect.stringMatching(/^already trained on this data by run /),
    ]);
    // A run tagged as trained from a candidate, that the pipeline never made, blocks nothing.
    const c = await candidate('memory-c', code(52), snapshot, 'passed');
    const fake = await store.createRun({ experimentId: (await store.getRun(c)).experimentId, tier: 'nightly', snapshotIds: [snapshot], tags: { promoted_from: c } });
    await store.endRun(fake.id, 'finished');
    expect((await fireSchedule('nightly', { store, queues, config })).created.map((x) => x.candidate)).toContain(c);
  });

  it('registers and removes job schedulers as the config says', async () => {
    const q = scheduleQueue(redis.connection, redis.prefix);
    try {
      expect(await registerSchedules(q, config, ['ci', 'nightly', 'weekly'])).toEqual({ registered: ['nightly', 'weekly'], removed: [] });
      const off = resolvePipelineConfig({ tiers: { weekly: { schedule: null, candidatesFrom: null } } });
      expect(await registerSchedules(q, off, ['weekly'])).toEqual({ registered: [], removed: ['weekly'] });
      expect((await listSchedules(q)).map((s) => [s.tier, s.pattern, s.timezone])).toEqual([['nightly', '0 2 * * *', 'UTC']]);
    } finally {
      await q.close();
    }
  });
});
