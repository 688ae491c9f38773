import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError, teams } from '@cairn/schema';
import { testDrivers } from './testing.ts';
import type { Store } from './types.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CairnError);
  return (e as CairnError).code;
}

describe.each(testDrivers())('createProject on $name', (driver) => {
  let store: Store;
  beforeAll(async () => {
    store = await driver.open();
  });
  afterAll(() => driver.cleanup());

  it('makes a project once: a second with the name is a CONFLICT, and nothing changes', async () => {
    const made = await store.createProject({ name: 'vision', description: 'image models' });
    expect(made).toMatchObject({ name: 'vision', description: 'image models', teamId: null });
    expect(await codeOf(store.createProject({ name: 'vision', description: 'other' }))).toBe('CONFLICT');
    expect((await store.listProjects()).filter((p) => p.name === 'vision')).toEqual([made]);
  });

  it("gives the project to an existing team; a team that is no team is NOT_FOUND and no project is made", async () => {
    // Team rows are better-auth's (the auth tables the store leaves to drizzle()).
    await store.drizzle().insert(teams).values({ id: 'team-1', name: 'Team one', slug: 'team-one' });
    expect(await store.createProject({ name: 'owned', teamId: 'team-1' })).toMatchObject({ name: 'owned', description: '', teamId: 'team-1' });
    expect(await codeOf(store.createProject({ name: 'orphan', teamId: 'no-such-team' }))).toBe('NOT_FOUND');
    expect((await store.listProjects()).map((p) => p.name)).not.toContain('orphan');
  });

  it('validates its input', async () => {
    expect(await codeOf(store.createProject({ name: '' }))).toBe('INVALID_INPUT');
    expect(await codeOf(store.createProject({ name: 'x'.repeat(251) }))).toBe('INVALID_INPUT');
    expect(await codeOf(store.createProject({ name: 'long-description', description: 'x'.repeat(10_001) }))).toBe('INVALID_INPUT');
    expect(await codeOf(store.createProject({ name: 'extra', owner: 'me' } as never))).toBe('INVALID_INPUT');
    expect((await store.listProjects()).map((p) => p.name)).not.toContain('long-description');
  });
});
