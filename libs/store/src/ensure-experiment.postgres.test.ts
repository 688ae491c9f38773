import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDrivers } from './testing.ts';
import type { Store } from './types.ts';

describe.each(testDrivers())('ensureExperiment on $name', (driver) => {
  let store: Store;
  beforeAll(async () => {
    store = await driver.open();
  });
  afterAll(() => driver.cleanup());

  // A name is a name: one spelled like another project's experiment id must not resolve to that experiment.
  it("finds or makes the experiment of that name in that project, even when the name is another experiment's id", async () => {
    const theirs = await store.ensureExperiment({ project: 'team-a', name: 'secret' });
    const mine = await store.ensureExperiment({ project: 'team-b', name: theirs.id });
    expect(mine.id).not.toBe(theirs.id);
    expect(mine.name).toBe(theirs.id);
    expect(mine.projectId).toBe((await store.listProjects()).find((p) => p.name === 'team-b')!.id);
    expect((await store.ensureExperiment({ project: 'team-b', name: theirs.id })).id).toBe(mine.id);
  });
});
