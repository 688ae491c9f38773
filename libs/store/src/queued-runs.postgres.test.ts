import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDrivers } from './testing.ts';
import type { Store } from './types.ts';

/**
 * A queued run's prefix is the pipeline's record of where its job went: set when the run
 * is created queued, read by prefix and status alone (tags play no part), a page at a time.
 */
describe.each(testDrivers())('queued runs by prefix on $name', (driver) => {
  let store: Store;
  let experimentId: string;
  beforeAll(async () => {
    store = await driver.open();
    experimentId = (await store.ensureExperiment({ name: 'queued' })).id;
  });
  afterAll(() => driver.cleanup());

  const queued = (queuePrefix: string | undefined, tags: Record<string, string> = {}) =>
    store.createRun({ experimentId, status: 'queued', tier: 'ci', tags, ...(queuePrefix !== undefined ? { queuePrefix } : {}) });

  it('lists the queued runs of a prefix by id, a page at a time; tags, other prefixes and ended runs play no part', async () => {
    const ours = [await queued('team-a'), await queued('team-a', { queue: 'team-b' }), await queued('team-a')];
    await queued('team-b');
    await queued(undefined, { queue: 'team-a' });
    const ended = await queued('team-a');
    await store.endRun(ended.id, 'cancelled');

    expect((await store.getRunHead(ours[0]!.id)).queuePrefix).toBe('team-a');
    const ids = ours.map((r) => r.id).sort();
    expect((await store.listQueuedRuns({ prefix: 'team-a' })).map((r) => r.id)).toEqual(ids);
    const first = await store.listQueuedRuns({ prefix: 'team-a', limit: 2 });
    expect(first.map((r) => r.id)).toEqual(ids.slice(0, 2));
    expect((await store.listQueuedRuns({ prefix: 'team-a', after: first[1]!.id, limit: 2 })).map((r) => r.id)).toEqual(ids.slice(2));

    // Taken by a worker: no longer queued, so no longer listed.
    await store.claimRun(ours[0]!.id, { workerId: 'w' });
    expect((await store.listQueuedRuns({ prefix: 'team-a' })).map((r) => r.id)).toEqual(ids.filter((id) => id !== ours[0]!.id));
  });

  it('refuses a prefix BullMQ could not use, and one on a run that is not queued', async () => {
    await expect(queued('a:b')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(queued('')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(store.createRun({ experimentId, status: 'running', queuePrefix: 'team-a' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(store.listQueuedRuns({ prefix: 'a:b' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
