import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { teams } from '@cairn/schema';
import { openStore } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { cli, storeArgs } from './test-support.ts';

/**
 * `cairn projects`: a project made before team mode has no team, so nobody sees it; the
 * operator gives it one (by slug or id) and can take it back. Checked in the store.
 */
describe.each(testDrivers())('cairn projects on $name', (engine) => {
  let args: string[];
  let loc: { home?: string; url?: string };
  const run = (...rest: string[]) => cli([...args, ...rest]);
  const teamOf = async (name: string) => {
    const store = await openStore(loc);
    try {
      return (await store.listProjects()).find((p) => p.name === name)?.teamId;
    } finally {
      await store.close();
    }
  };

  beforeAll(async () => {
    loc = await engine.fresh();
    const store = await openStore(loc);
    try {
      await store.ensureExperiment({ name: 'before-teams' });
      await store.drizzle().insert(teams).values({ id: 'team-research-1', name: 'Research', slug: 'research' });
    } finally {
      await store.close();
    }
    args = storeArgs(loc);
  });
  afterAll(() => engine.cleanup());

  it('gives a project to a team by slug or id, takes it back, and refuses what does not exist', async () => {
    const before = await run('projects', 'list', '--json');
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout).projects).toEqual([expect.objectContaining({ name: 'default', team: null, teamId: null })]);

    const missing = await run('projects', 'team', 'default', 'nobody');
    expect([missing.code, missing.stderr.trim()]).toEqual([1, "cairn: team 'nobody' not found"]);
    const noProject = await run('projects', 'team', 'elsewhere', 'research');
    expect([noProject.code, noProject.stderr.trim()]).toEqual([1, "cairn: project 'elsewhere' not found"]);
    const neither = await run('projects', 'team', 'default');
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/name a team, or pass --none/);
    expect(await teamOf('default')).toBeNull();

    const given = await run('projects', 'team', 'default', 'research');
    expect(given.code, given.stderr).toBe(0);
    expect(given.stdout.trim()).toBe('Project default now belongs to team research (Research).');
    expect(await teamOf('default')).toBe('team-research-1');
    const listed = await run('projects', 'list');
    expect(listed.stdout).toMatch(/^default\s+research\s*$/m);

    const back = await run('projects', 'team', 'default', '--none', '--json');
    expect(JSON.parse(back.stdout)).toEqual({ project: expect.objectContaining({ name: 'default', team: null, teamId: null }) });
    expect(await teamOf('default')).toBeNull();
    const byId = await run('projects', 'team', 'default', 'team-research-1');
    expect(byId.code, byId.stderr).toBe(0);
    expect(await teamOf('default')).toBe('team-research-1');
  });
});
