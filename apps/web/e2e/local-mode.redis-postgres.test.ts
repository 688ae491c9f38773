/**
 * The portal in local mode (one user, no sign-in), in a real browser, against data made
 * by Cairn's own code (support/seed.ts): the production build served by `next start`
 * (support/portal.ts) over a fresh store — a new PostgreSQL database when DATABASE_URL
 * is set, else an embedded store in a temp CAIRN_HOME — and Redis queues under a prefix
 * of their own, driven by headless chromium (support/browser.ts).
 *
 * Every scenario checks what a person sees (rows, statuses, reasons, charts drawn on a
 * canvas, highlighted cells, graph nodes) and, where the portal changes something, the
 * store itself. A screenshot of every main page goes to apps/web/test-output/screenshots/.
 *
 * Team mode (sign-in, sign-out, per-project roles) gets a file of its own beside this one:
 * the same support modules, with the portal started in team mode through
 * `startPortal({ ...world.portalEnv(), …team settings })`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { parseFilter, type Store } from '@cairn/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser, type OpenBrowser } from './support/browser.ts';
import { WEB_DIR } from './support/build.ts';
import { startPortal, type RunningPortal } from './support/portal.ts';
import { STEADY_WORKER, seed, type Seeded } from './support/seed.ts';
import { createWorld, type World } from './support/world.ts';

const SHOTS = path.join(WEB_DIR, 'test-output/screenshots');
const MAIN_PAGES = ['experiments', 'runs', 'run-detail', 'compare', 'lineage', 'datasets', 'queues', 'models'] as const;
type MainPage = (typeof MAIN_PAGES)[number];

/** A name the portal is told to answer (CAIRN_ALLOWED_HOSTS), besides localhost and IP addresses. */
const ALLOWED_NAME = 'portal.cairn.test';

const sel = (testId: string, attrs: Record<string, string | number> = {}) =>
  `[data-testid="${testId}"]${Object.entries(attrs)
    .map(([k, v]) => `[data-${k}="${v}"]`)
    .join('')}`;

/** Polls `read` until `ok` holds for what it returned; fails with the last value seen. */
async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('portal in local mode', () => {
  let world: World;
  let seeded: Seeded;
  let portal: RunningPortal;
  let store: Store;
  let browser: OpenBrowser;
  let page: Page;

  const open = async (pathname: string, waitFor: string) => {
    await page.goto(portal.url + pathname);
    await page.waitForSelector(waitFor, { state: 'visible' });
  };

  /** A screenshot of the page as it is, checked to be a non-empty file. */
  const shot = async (name: MainPage) => {
    const file = path.join(SHOTS, `${name}.png`);
    await page.screenshot({ path: file });
    expect(fs.statSync(file).size).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    fs.rmSync(SHOTS, { recursive: true, force: true });
    fs.mkdirSync(SHOTS, { recursive: true });
    world = await createWorld();
    // Seed first, with the store closed again before the portal starts: an embedded store
    // is then hosted by the portal, and this process joins it below.
    const seeding = await world.openStore();
    try {
      seeded = await seed(seeding, world);
    } finally {
      await seeding.close();
    }
    portal = await startPortal({ ...world.portalEnv(), CAIRN_ALLOWED_HOSTS: ALLOWED_NAME });
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

  it('lists the experiment with its runs on the experiments page', async () => {
    await open('/', sel('experiment-card', { experiment: seeded.experiment }));
    const card = page.locator(sel('experiment-card', { experiment: seeded.experiment }));
    // Four tracked runs and the queued one.
    expect(await card.locator(sel('run-count')).textContent()).toBe('5');
    await shot('experiments');
  });

  it('shows every run in the runs table, with its status and why it ended', async () => {
    await open('/runs', sel('run-row'));
    await page.waitForSelector(`${sel('runs-table')}[data-loaded="5"]`);
    const { best, steady, hot, plateau } = seeded.runs;
    for (const run of [best, steady, hot, plateau]) {
      const row = page.locator(sel('run-row', { 'run-id': run.id }));
      expect(await row.getAttribute('data-status')).toBe(run.status);
      expect(await row.locator(sel('run-link')).textContent()).toBe(run.name);
      expect(await row.locator(sel('status-chip')).getAttribute('data-status')).toBe(run.status);
      if (run.reason) {
        const reason = row.locator(sel('status-reason'));
        expect(await reason.isVisible()).toBe(true);
        expect(await reason.textContent()).toBe(run.reason);
      } else {
        expect(await row.locator(sel('status-reason')).count()).toBe(0);
      }
    }
    expect(await page.locator(sel('run-row', { 'run-id': seeded.queued.id })).getAttribute('data-status')).toBe('queued');
    await until('the run count', () => page.locator(sel('runs-count')).textContent(), (t) => t === '5 of 5 runs loaded');
    await shot('runs');
  });

  it('narrows the rows with a valid filter, and points at the error of an invalid one', async () => {
    await open('/runs', sel('run-row'));
    const input = page.locator(sel('filter-input'));
    const filter = "status = 'failed' or status = 'abandoned'";
    await input.fill(filter);
    await input.press('Enter');
    const shown = await until(
      'the filtered rows',
      () => page.locator(sel('run-row')).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')).sort()),
      (ids) => ids.length === 2,
    );
    const { runs: matching } = await store.searchRuns({ filter });
    expect(shown).toEqual(matching.map((r) => r.id).sort());
    expect(shown).toEqual([seeded.runs.hot.id, seeded.runs.plateau.id].sort());
    expect(new URL(page.url()).searchParams.get('filter')).toBe(filter);

    const bad = "metrics.val_accuracy > 0.5 and and status = 'failed'";
    await input.fill(bad);
    await input.press('Enter');
    const error = page.locator(sel('filter-error'));
    await error.waitFor({ state: 'visible' });
    // The API's 1-based column, as the store's own parser reports it, shown 0-based: the second `and`.
    let parsed = { column: -1, detail: '' };
    try {
      parseFilter(bad);
    } catch (e) {
      parsed = e as typeof parsed;
    }
    const position = bad.indexOf('and and') + 4;
    expect(parsed.column - 1).toBe(position);
    expect(await error.getAttribute('data-position')).toBe(String(position));
    expect(await error.textContent()).toContain(parsed.detail);
    const caret = (await page.locator(sel('filter-error-caret')).textContent()) ?? '';
    expect(caret.indexOf('^')).toBe(position);
    expect(await page.locator(sel('run-row')).count()).toBe(0);
  });

  it('opens a run from the table: params, a drawn chart per metric, and its note', async () => {
    const { best } = seeded.runs;
    await open('/runs', sel('run-row', { 'run-id': best.id }));
    await page.locator(sel('run-row', { 'run-id': best.id })).locator(sel('run-link')).click();
    await page.waitForURL(`**/runs/${best.id}`);
    await page.waitForSelector(sel('run-detail', { status: 'finished' }));
    expect(await page.locator(sel('run-name')).textContent()).toBe(best.name);

    const params = page.locator(sel('params'));
    for (const [key, value] of Object.entries(best.params)) {
      expect(await params.locator('tr', { hasText: key }).textContent()).toContain(String(value));
    }
    const charts = page.locator(`${sel('run-charts')} ${sel('metric-chart')}`);
    await page.waitForSelector(`${sel('run-charts')} ${sel('metric-chart', { metric: 'val_accuracy' })} canvas`);
    expect(await charts.evaluateAll((els) => els.map((e) => e.getAttribute('data-metric')))).toEqual(['loss', 'val_accuracy', 'val_loss']);
    // Every step logged is drawn (600 points is below the chart's downsampling limit).
    expect(await charts.evaluateAll((els) => els.map((e) => e.getAttribute('data-points')))).toEqual(['600', '600', '600']);
    const canvas = await page.locator(`${sel('metric-chart', { metric: 'val_accuracy' })} canvas`).first().boundingBox();
    expect(canvas!.width).toBeGreaterThan(100);
    expect(canvas!.height).toBeGreaterThan(100);

    const note = page.locator(sel('note'));
    expect(await note.count()).toBe(1);
    // Rendered markdown, not its source: a heading, bold text, no asterisks left.
    expect(await note.locator('h3, h4, h5, h6').textContent()).toBe('Why wide');
    expect(await note.locator('strong').textContent()).toBe('wider');
    expect(await note.textContent()).not.toContain('**');
    // The pipeline's verdict, from its own record, with the values that decided it.
    const gate = page.locator(sel('gate', { tier: 'extended', verdict: 'passed' }));
    expect(await gate.textContent()).toContain("status = 'finished' and metrics.val_accuracy >= 0.9");
    expect(await gate.textContent()).toContain('metrics.val_accuracy = 0.93');
    await shot('run-detail');
  });

  it("lists a run's attempts in its pipeline panel: worker, checkpoint, outcome, as the pipeline recorded them", async () => {
    await open(`/runs/${seeded.runs.steady.id}`, sel('attempts'));
    const rows = page.locator(`${sel('attempts')} ${sel('attempt')}`);
    expect(await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-attempt'), e.getAttribute('data-outcome')]))).toEqual([
      ['1', 'superseded'],
      ['2', 'finished'],
    ]);
    const second = page.locator(sel('attempt', { attempt: 2 }));
    expect(await second.textContent()).toContain(STEADY_WORKER);
    expect(await second.locator('td').nth(4).textContent()).toBe('200');
    expect(await page.locator(sel('attempt', { attempt: 1 })).textContent()).toContain(`taken over by attempt 2 on ${STEADY_WORKER}`);
  });

  it("keeps a note's links on the portal, or marks them external; tricks that Chromium resolves off-site are not links", async () => {
    const { plateau } = seeded.runs;
    // Issue 13: each of these was an <a> whose href Chromium resolved to evil.example.
    const attacks = {
      'bs-link': '[bs-link](/\\evil.example)',
      'tab-link': '[tab-link](/\t/evil.example)',
      'lf-link': '[lf-link](/\n/evil.example)',
      'dot-link': '[dot-link](/.//evil.example)',
      'cell-link': '| run |\n| --- |\n| [cell-link](/\\\\evil.example) |',
    };
    const body = [...Object.values(attacks), '[internal-link](/runs) and [external-link](https://example.com/paper)'].join('\n\n');
    await store.addNote({ kind: 'run', id: plateau.id }, body, 'e2e');
    await open(`/runs/${plateau.id}`, `${sel('note')} a`);
    const runUrl = page.url();
    const origin = new URL(portal.url).origin;

    // Every link as Chromium resolves it: on the portal, or external, in a new tab, without opener or referrer.
    const links = await page.locator(`${sel('notes')} a`).evaluateAll((as) =>
      (as as HTMLAnchorElement[]).map((a) => ({ text: a.textContent ?? '', href: a.href, rel: a.rel, target: a.target })),
    );
    expect(links.map((l) => l.text.split('↗')[0])).toEqual(['internal-link', 'external-link']);
    expect(links[0]).toMatchObject({ href: `${origin}/runs`, rel: '', target: '' });
    expect(links[1]).toMatchObject({ href: 'https://example.com/paper', rel: 'noopener noreferrer nofollow', target: '_blank' });
    expect(await page.locator(`${sel('notes')} a.external`).isVisible()).toBe(true);
    expect(links[1]!.text).toContain('↗');

    // Clicking where each attack's link was goes nowhere: same page, no new tab.
    const pages = browser.context.pages().length;
    for (const label of Object.keys(attacks)) {
      await page.locator(sel('notes')).getByText(label).click();
      expect(new URL(page.url()).origin).toBe(origin);
      expect(page.url()).toBe(runUrl);
    }
    expect(browser.context.pages().length).toBe(pages);

    await page.locator(`${sel('notes')} a`, { hasText: 'internal-link' }).click();
    await page.waitForURL(`${origin}/runs`);
  });

  it('compares two runs picked in the table: a chart per metric and the params that differ', async () => {
    const { best, steady } = seeded.runs;
    await open('/runs', sel('run-row'));
    for (const run of [best, steady]) await page.locator(sel('run-row', { 'run-id': run.id })).locator(sel('run-select')).check();
    expect(await page.locator(sel('compare-button')).textContent()).toBe('Compare (2)');
    await page.locator(sel('compare-button')).click();
    await page.waitForURL('**/compare?**');
    await page.waitForSelector(`${sel('compare-charts')} canvas`);
    expect((await page.locator(sel('compare-run')).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')))).sort()).toEqual([best.id, steady.id].sort());
    const charts = page.locator(`${sel('compare-charts')} ${sel('metric-chart')}`);
    expect(await charts.evaluateAll((els) => els.map((e) => e.getAttribute('data-metric')))).toEqual(['loss', 'val_accuracy', 'val_loss']);
    await until('a canvas in every chart', () => page.locator(`${sel('compare-charts')} ${sel('metric-chart')} canvas`).count(), (n) => n >= 3);
    // Both runs' steps on one x axis: 600 of the longer run.
    expect(await charts.first().getAttribute('data-points')).toBe('600');

    const row = (key: string) => page.locator(sel('param-row', { param: key }));
    for (const key of ['learningRate', 'hiddenUnits']) {
      expect(await row(key).getAttribute('data-differs')).toBe('true');
      // Two runs, two values: neither is the usual one, so both cells are highlighted.
      expect(await row(key).locator('td[data-highlight]').count()).toBe(2);
      expect(await row(key).evaluate((tr) => getComputedStyle(tr.querySelector('td[data-highlight]')!).backgroundColor)).not.toBe(
        await row(key).evaluate((tr) => getComputedStyle(tr.querySelector('td')!).backgroundColor),
      );
    }
    for (const key of ['optimizer', 'epochs']) {
      expect(await row(key).getAttribute('data-differs')).toBe('false');
      expect(await row(key).locator('td[data-highlight]').count()).toBe(0);
    }
    await page.locator(sel('only-differing')).check();
    expect(await page.locator(sel('param-row')).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-param')))).toEqual(['hiddenUnits', 'learningRate']);
    await shot('compare');
  });

  it('draws the lineage graph around a run, and re-roots it on a clicked node', async () => {
    const { best } = seeded.runs;
    await open(`/lineage?kind=run&id=${best.id}`, `${sel('lineage-canvas')}[data-ready="true"] ${sel('lineage-node')}`);
    const nodes = () => page.locator(sel('lineage-node')).evaluateAll((els) => els.map((e) => `${e.getAttribute('data-kind')}:${e.getAttribute('data-id')}${e.hasAttribute('data-root') ? '*' : ''}`));
    const around = await nodes();
    // Upstream the snapshot it read (and its dataset), downstream the model version made from it.
    expect(around).toContain(`run:${best.id}*`);
    expect(around).toContain(`snapshot:${seeded.snapshots.v2}`);
    expect(around.some((n) => n.startsWith('dataset:'))).toBe(true);
    expect(around.some((n) => n.startsWith('model_version:'))).toBe(true);
    // Drawn, not just listed: React Flow's edge paths between them.
    expect(await page.locator('.react-flow__edge path').count()).toBeGreaterThanOrEqual(around.length - 1);
    const snapshotNode = page.locator(sel('lineage-node', { kind: 'snapshot', id: seeded.snapshots.v2 }));
    expect(await snapshotNode.isVisible()).toBe(true);
    await shot('lineage');

    await snapshotNode.click();
    await page.waitForURL((u) => u.searchParams.get('kind') === 'snapshot' && u.searchParams.get('id') === seeded.snapshots.v2);
    const rerooted = await until('the graph re-rooted on the snapshot', nodes, (ns) => ns.includes(`snapshot:${seeded.snapshots.v2}*`));
    // The snapshot's graph: the run that read it is still there, no longer the root.
    expect(rerooted).toContain(`run:${best.id}`);
  });

  it('shows the dataset with its two snapshots, what changed, and the drift', async () => {
    await open('/datasets', sel('dataset-row', { dataset: seeded.dataset }));
    await shot('datasets');
    await open(`/datasets/${seeded.dataset}`, sel('snapshot-diff'));
    expect(await page.locator(sel('snapshot-row')).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-snapshot')))).toEqual([seeded.snapshots.v2, seeded.snapshots.v1]);
    // v1 → v2: README.txt added, iris.csv modified.
    expect(await page.locator(sel('diff-added')).getAttribute('data-count')).toBe('1');
    expect(await page.locator(sel('diff-modified')).getAttribute('data-count')).toBe('1');
    expect(await page.locator(sel('diff-removed')).getAttribute('data-count')).toBe('0');
    await page.waitForSelector(sel('drift-table'));
  });

  it('shows the registered model with its alias', async () => {
    await open('/models', sel('model-row', { model: seeded.model.name }));
    await shot('models');
    await open(`/models/${seeded.model.name}`, sel('version-row', { version: seeded.model.version }));
    expect(await page.locator(sel('alias', { alias: 'production' })).getAttribute('data-version')).toBe(String(seeded.model.version));
  });

  it("queues a run's code again on another tier from its page, and opens the new run", async () => {
    const { id } = seeded.queued;
    await open(`/runs/${id}`, sel('run-again'));
    // The prefix its job went to, as the pipeline recorded it.
    expect(await page.locator(sel('queue-prefix')).textContent()).toBe(world.queues.prefix);
    await page.locator(sel('run-again-tier')).selectOption('nightly');
    await page.locator(sel('run-again')).click();
    await page.waitForURL((url) => url.pathname.startsWith('/runs/') && !url.pathname.endsWith(id));
    await page.waitForSelector(sel('run-detail', { status: 'queued' }));
    const newId = await page.locator(sel('run-detail')).getAttribute('data-run-id');
    const run = await store.getRun(newId!);
    expect(run).toMatchObject({ status: 'queued', tier: 'nightly', codeHash: (await store.getRun(id)).codeHash });
    expect(run.tags.resubmitted_from).toBe(id);
    expect(await world.queues.get('nightly').getJob(newId!)).toBeDefined();
    await world.queues.get('nightly').remove(newId!);
  });

  it('cancels the queued job on /queues, and the run ends cancelled in the store', async () => {
    const { id } = seeded.queued;
    expect((await store.getRun(id)).status).toBe('queued');
    await open('/queues', sel('queue-job', { 'run-id': id }));
    expect(await page.locator(sel('tier', { tier: 'ci' })).getAttribute('data-waiting')).toBe('1');
    expect(await page.locator(sel('queue-job', { 'run-id': id })).getAttribute('data-state')).toBe('waiting');
    await shot('queues');

    const job = page.locator(sel('queue-job', { 'run-id': id }));
    await job.locator(sel('cancel-button')).click();
    await job.locator(sel('cancel-confirm')).click();
    // "Cancelled" shows until the job list refreshes without the job.
    await page.waitForSelector(`${sel('cancel-done', { 'run-id': id })}, ${sel('queues-idle')}`);

    const run = await until('the run to be cancelled in the store', () => store.getRun(id), (r) => r.status === 'cancelled');
    expect(run.endedAt).not.toBeNull();
    expect(await world.queues.get('ci').getJob(id)).toBeUndefined();
    // The live counts catch up: nothing waits in ci any more.
    await page.waitForSelector(sel('tier', { tier: 'ci', waiting: 0 }));
    await open(`/runs/${id}`, sel('run-detail'));
    expect(await page.locator(sel('run-detail')).getAttribute('data-status')).toBe('cancelled');
  });

  it('refuses a page on a rebound name, saying how to allow it, and serves an allowed name (DNS rebinding)', async () => {
    const port = new URL(portal.url).port;
    // Chromium resolving both names to 127.0.0.1: what attacker.example's DNS does after a rebinding.
    const rebound = await openBrowser({ args: [`--host-resolver-rules=MAP attacker.example 127.0.0.1, MAP ${ALLOWED_NAME} 127.0.0.1`] });
    try {
      const p = await rebound.newPage();
      p.setDefaultTimeout(20_000);
      await p.goto(`http://attacker.example:${port}/`);
      // The page's own API calls are refused; the portal shows why, and what to set.
      expect(await p.locator(sel('error')).first().textContent()).toMatch(/not 'attacker\.example:\d+'.*DNS rebinding.*CAIRN_ALLOWED_HOSTS=attacker\.example/);
      // What a script on that page can do: nothing, reading or writing.
      const tried = await p.evaluate(async () => {
        const read = await fetch('/api/trpc/experiments.list');
        const write = await fetch('/api/ingest/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment: 'rebound', name: 'planted' }) });
        return { read: read.status, write: write.status, said: ((await write.json()) as { error: { code: string } }).error.code };
      });
      expect(tried).toEqual({ read: 403, write: 403, said: 'HOST_NOT_ALLOWED' });

      await p.goto(`http://${ALLOWED_NAME}:${port}/`);
      await p.waitForSelector(sel('experiment-card', { experiment: seeded.experiment }), { state: 'visible' });
    } finally {
      await rebound.close();
    }
    expect((await store.listExperiments()).map((e) => e.name)).not.toContain('rebound');
  });

  it('saved a screenshot of every main page', () => {
    for (const name of MAIN_PAGES) {
      const file = path.join(SHOTS, `${name}.png`);
      expect(fs.existsSync(file), `${file} exists`).toBe(true);
      expect(fs.statSync(file).size, `${file} is not empty`).toBeGreaterThan(0);
    }
  });

  it('raised no page errors and logged no console errors', () => {
    expect(browser.problems).toEqual([]);
  });
});
