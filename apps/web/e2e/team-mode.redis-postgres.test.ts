/**
 * The portal in team mode (CAIRN_AUTH=team), in a real browser: an account is created and
 * signed in through the sign-in page, its team's project shows its experiment, signing out
 * hides it again, a wrong password is refused with the server's message, and a second
 * account outside the team never sees it. Accounts, sessions and teams are better-auth's,
 * served by the portal itself; the experiment is written to the store by Cairn's own code.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { Store } from '@cairn/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type OpenBrowser } from './support/browser.ts';
import { startPortal, type RunningPortal } from './support/portal.ts';
import { createWorld, type World } from './support/world.ts';

const sel = (testId: string) => `[data-testid="${testId}"]`;
const PASSWORD = 'correct horse battery';

describe('portal in team mode', () => {
  let world: World;
  let portal: RunningPortal;
  let store: Store;
  let browser: OpenBrowser;
  let page: Page;
  const email = `ada-${randomBytes(3).toString('hex')}@example.com`;
  const experiment = 'team-iris';

  beforeAll(async () => {
    world = await createWorld();
    portal = await startPortal({ ...world.portalEnv(), CAIRN_AUTH: 'team', CAIRN_AUTH_SECRET: randomBytes(32).toString('hex') });
    store = await world.openStore();
    browser = await openBrowser();
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
  });

  afterAll(async () => {
    await browser?.close();
    await store?.close();
    await portal?.stop();
    await world?.close();
  });

  /** A tRPC mutation from the page, with its session cookie (superjson's `{ json }` envelope). */
  const mutate = (path: string, input: unknown) =>
    page.evaluate(
      async ({ path, input }) => {
        const res = await fetch(`/api/trpc/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: input }) });
        return { status: res.status, body: (await res.json()) as { result?: { data: { json: { id: string } } } } };
      },
      { path, input },
    );

  const signIn = async (address: string, password: string) => {
    await page.goto(`${portal.url}/signin`);
    await page.fill(sel('signin-email'), address);
    await page.fill(sel('signin-password'), password);
    await page.click(sel('signin-submit'));
  };

  it('creates an account, signs in, and shows the team project’s experiment only while signed in', async () => {
    // Signed out, team mode shows nothing and offers to sign in.
    await page.goto(portal.url);
    await page.waitForSelector(sel('signin-link'));

    await page.goto(`${portal.url}/signin`);
    await page.click(sel('signin-toggle'));
    await page.fill(sel('signin-name'), 'Ada');
    await page.fill(sel('signin-email'), email);
    await page.fill(sel('signin-password'), PASSWORD);
    await page.click(sel('signin-submit'));
    await page.waitForSelector(sel('account-email'));
    expect(await page.textContent(sel('account-email'))).toBe('Ada');

    // A team and a project it owns, made through the API as the signed-in user.
    const team = await mutate('teams.create', { name: 'Flowers' });
    expect(team.status).toBe(200);
    const project = await mutate('projects.create', { name: 'flowers', teamId: team.body.result!.data.json.id });
    expect(project.status).toBe(200);
    // Training code writes into that project.
    const exp = await store.ensureExperiment({ project: 'flowers', name: experiment });
    const run = await store.createRun({ experimentId: exp.id });
    await store.endRun(run.id, 'finished');

    await page.goto(portal.url);
    await page.waitForSelector(`[data-testid="experiment-card"][data-experiment="${experiment}"]`);

    // Signing out: back to the sign-in page, and the experiment is gone from the list.
    await page.click(sel('signout'));
    await page.waitForURL(/\/signin$/);
    await page.goto(portal.url);
    await page.waitForSelector(sel('signin-link'));
    expect(await page.locator('[data-testid="experiment-card"]').count()).toBe(0);
  });

  it('refuses a wrong password with the server’s message, then signs in with the right one', async () => {
    await signIn(email, 'not the password');
    await page.waitForSelector(sel('signin-error'));
    expect((await page.textContent(sel('signin-error')))!.toLowerCase()).toContain('invalid');
    await signIn(email, PASSWORD);
    await page.waitForSelector(`[data-testid="experiment-card"][data-experiment="${experiment}"]`);
    await page.click(sel('signout'));
    await page.waitForURL(/\/signin$/);
  });

  it('never shows another team’s experiment to an account outside it', async () => {
    await page.goto(`${portal.url}/signin`);
    await page.click(sel('signin-toggle'));
    await page.fill(sel('signin-name'), 'Grace');
    await page.fill(sel('signin-email'), `grace-${randomBytes(3).toString('hex')}@example.com`);
    await page.fill(sel('signin-password'), PASSWORD);
    await page.click(sel('signin-submit'));
    await page.waitForSelector(sel('account-email'));
    await page.goto(portal.url);
    await page.waitForSelector(sel('account-email'));
    // Wait for the list itself (its empty state), not merely for the page to stop loading.
    await page.waitForSelector(sel('empty-state'));
    expect(await page.locator('[data-testid="experiment-card"]').count()).toBe(0);
    const run = await page.evaluate(async (id) => (await fetch(`/api/trpc/experiments.get?input=${encodeURIComponent(JSON.stringify({ json: { id } }))}`)).status, (await store.getExperiment(experiment, 'flowers')).id);
    expect(run).toBe(404);
    expect(browser.problems).toEqual([]);
  });
});
