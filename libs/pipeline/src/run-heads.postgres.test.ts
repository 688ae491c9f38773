import { afterAll, describe, expect, it, vi } from 'vitest';
import { CairnError } from '@cairn/schema';
import { testDrivers } from '@cairn/store/testing';
import { RunHeadLoader } from './run-heads.ts';

describe.each(testDrivers())('RunHeadLoader on $name', (engine) => {
  afterAll(() => engine.cleanup());

  it('answers lookups made in the same tick with one query; a missing run is NOT_FOUND for its caller alone', async () => {
    const store = await engine.open();
    const exp = await store.ensureExperiment({ name: 'heads' });
    const runs = await Promise.all(Array.from({ length: 30 }, (_, i) => store.createRun({ experimentId: exp.id, name: `r${i}`, status: 'queued', tier: 'ci' })));
    await store.endRun(runs[3]!.id, 'finished');
    const spy = vi.spyOn(store, 'getRunHeads');
    const loader = new RunHeadLoader(store, 20);
    const missing = '00000000-0000-4000-8000-000000000000';
    const results = await Promise.allSettled([...runs.map((r) => loader.load(r.id)), loader.load(runs[0]!.id), loader.load(missing), loader.load('not-a-run')]);
    // 31 distinct ids in chunks of at most 20: two queries.
    expect(spy.mock.calls.map((c) => c[0].length)).toEqual([20, 11]);
    for (const [i, r] of runs.entries()) expect(results[i]).toMatchObject({ status: 'fulfilled', value: { id: r.id, name: `r${i}`, status: i === 3 ? 'finished' : 'queued' } });
    expect(results[30]).toMatchObject({ status: 'fulfilled', value: { id: runs[0]!.id } });
    const lost = results[31] as PromiseRejectedResult;
    expect(lost.status).toBe('rejected');
    expect((lost.reason as CairnError).code).toBe('NOT_FOUND');
    // A malformed id fails alone (the store's own error), never its batch.
    expect((results[32] as PromiseRejectedResult).reason).toBeInstanceOf(CairnError);

    // A later tick is a new batch.
    await loader.load(runs[5]!.id);
    expect(spy).toHaveBeenCalledTimes(3);
  });
});
