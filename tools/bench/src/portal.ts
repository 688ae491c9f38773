import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_REDIS_URL } from '@cairn/pipeline';
import type { Store } from '@cairn/store';
import { CHROMIUM, CHROMIUM_ARGS, assertChromium } from '../../../apps/web/e2e/support/browser.ts';
import { ensurePortalBuild } from '@cairn/portal';
import { startPortal, type RunningPortal } from '../../../apps/web/e2e/support/portal.ts';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import type { BenchEngine } from './engines.ts';
import type { ResultRow } from './report.ts';
import { formatInt, formatMs, median } from './stats.ts';

/**
 * portal: the web portal (apps/web, production build, `next start`) in headless chromium
 * over 100,000 runs in PostgreSQL, timed by the browser's own clocks (Performance API,
 * performance.now(), MutationObserver, PerformanceObserver 'longtask'):
 *
 * - the runs page's first contentful paint, in a fresh browser context (cold cache);
 * - a filter change: from the Enter key in the filter box to the frame after the table
 *   shows the new first rows;
 * - /compare of 10 runs × 10,000 steps × 3 metrics: from navigation start to the frame
 *   after every chart is drawn, and the longest long task before that.
 *
 * Baselines, measured in the same run: the first contentful paint of a minimal static
 * page from a plain Node http server (the browser's floor), and the tRPC requests behind
 * the filter and the comparison, fetched straight from the portal (the server's share).
 */
export const PORTAL_TARGETS = { fcpMs: 1_500, filterMs: 300, compareMs: 1_000, longTaskMs: 200 } as const;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SEED_SCRIPT = path.join(ROOT, 'apps/web/scripts/seed-demo.ts');
const RUNS = 100_000;
const QUICK_RUNS = 5_000;
const COMPARE_RUNS = 10;
const STEPS = 10_000;
const QUICK_STEPS = 2_000;
const KEYS = ['loss', 'val_accuracy', 'val_loss'] as const;
const REPS = 5;
/** Points per line the compare page asks for with 10 runs (CompareView's pointsFor). */
const COMPARE_POINTS = 600;
const QUICK_REPS = 3;
const VIEWPORT = { width: 1400, height: 900 };

/** `apps/web/scripts/seed-demo.ts --bulk N` against the benchmark database: set-based SQL on PostgreSQL. */
function seedDemo(url: string, blobs: string, runs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: url, CAIRN_BLOBS: blobs };
    const child = spawn(process.execPath, ['--import', 'tsx', SEED_SCRIPT, '--bulk', String(runs)], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed-demo.ts exited ${code}: ${err}`))));
  });
}

/** 10 finished runs with STEPS steps of each key, logged through Store.logMetrics. */
async function seedCompareRuns(store: Store, steps: number): Promise<string[]> {
  const exp = await store.ensureExperiment({ name: 'bench-compare', description: `${COMPARE_RUNS} runs × ${steps} steps for the compare page` });
  const ids: string[] = [];
  for (let r = 0; r < COMPARE_RUNS; r++) {
    const run = await store.createRun({
      experimentId: exp.id,
      name: `long-${r}`,
      params: { lr: Number((0.001 * (r + 1)).toFixed(4)), layers: 2 + (r % 3), optimizer: 'lamb', warmup: 100 * r },
      tags: { bench: 'compare' },
    });
    const t0 = Date.now() - steps * 100;
    const points: { key: string; step: number; value: number; wallMs: number }[] = [];
    const q = 0.6 + 0.04 * r;
    for (let i = 0; i < steps; i++) {
      const t = i / steps;
      const wobble = Math.sin(i * 0.37 + r) * 0.02 + Math.sin(i * 0.011 * (r + 1)) * 0.01;
      const wallMs = t0 + i * 100;
      points.push(
        { key: 'loss', step: i, value: 0.1 / q + (1.2 - 0.1 / q) * Math.exp(-5 * t) + wobble, wallMs },
        { key: 'val_accuracy', step: i, value: Math.min(0.99, 0.6 + 0.35 * q) - 0.3 * Math.exp(-5 * t) + wobble, wallMs },
        { key: 'val_loss', step: i, value: 0.15 / q + (1.25 - 0.15 / q) * Math.exp(-5 * t) + 1.5 * wobble, wallMs },
      );
    }
    for (let i = 0; i < points.length; i += 10_000) await store.logMetrics(run.id, points.slice(i, i + 10_000));
    await store.endRun(run.id, 'finished', null);
    ids.push(run.id);
  }
  return ids;
}

/** A one-line static page from a plain http server: the browser's own floor for a first paint. */
async function staticServer(): Promise<{ url: string; close(): Promise<void> }> {
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>baseline</title></head><body><h1>Runs</h1><p>static baseline page</p></body></html>';
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

/** The first contentful paint of a page just loaded (ms after navigation start). */
async function firstContentfulPaint(page: Page): Promise<number> {
  const fcp = await page.waitForFunction(`(() => { const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : 0; })()`);
  return (await fcp.jsonValue()) as number;
}

/** Marks, in the page, when the first run rows appear (performance.now()). */
const ROWS_AT_SCRIPT = `
  new MutationObserver((_, obs) => {
    if (document.querySelector('[data-testid="run-row"]')) { window.__rowsAt = performance.now(); obs.disconnect(); }
  }).observe(document, { childList: true, subtree: true });`;

/**
 * Arms the filter measurement in the page: the Enter keydown in the filter box starts the
 * clock; a MutationObserver stops it at the frame after rows 0..n-1 show the expected ids.
 */
function armFilterScript(expected: string[]): string {
  return `(() => {
    const expected = ${JSON.stringify(expected)};
    window.__filter = {};
    const input = document.querySelector('[data-testid="filter-input"]');
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter' && window.__filter.start === undefined) window.__filter.start = performance.now(); }, { capture: true, once: true });
    const shown = () => expected.every((id, i) => document.querySelector('[data-testid="run-row"][data-index="' + i + '"]')?.getAttribute('data-run-id') === id);
    const obs = new MutationObserver(() => {
      if (window.__filter.start === undefined || !shown()) return;
      obs.disconnect();
      window.__filter.dom = performance.now();
      requestAnimationFrame(() => { window.__filter.frame = performance.now(); });
    });
    obs.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-run-id'] });
  })()`;
}

/** Installed before the compare page's scripts: long tasks, and the frame after all charts have a canvas. */
function compareInitScript(charts: number): string {
  return `
    window.__long = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push({ start: e.startTime, duration: e.duration }); }).observe({ type: 'longtask', buffered: true });
    const obs = new MutationObserver(() => {
      if (document.querySelectorAll('[data-testid="compare-charts"] [data-testid="metric-chart"] canvas').length < ${charts}) return;
      obs.disconnect();
      window.__chartsDom = performance.now();
      requestAnimationFrame(() => { window.__chartsAt = performance.now(); });
    });
    obs.observe(document, { childList: true, subtree: true });`;
}

/** In the page: when its first tRPC call to `proc` started and its last one was answered (Resource Timing). */
function apiTimingScript(proc: string): string {
  return `(() => {
    const calls = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/trpc/') && e.name.includes(${JSON.stringify(proc)}));
    return calls.length ? { start: Math.min(...calls.map((e) => e.startTime)), end: Math.max(...calls.map((e) => e.responseEnd)) } : { start: NaN, end: NaN };
  })()`;
}

/** A tRPC query fetched straight from the portal, as the page's client would (superjson input). */
async function trpcQuery(base: string, proc: string, input: unknown): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${base}/api/trpc/${proc}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${proc} answered ${res.status}`);
  return performance.now() - t;
}

export async function portalBench(engine: BenchEngine, ctx: BenchContext): Promise<BenchResult> {
  if (engine.name !== 'postgres') return { rows: [], notes: ['skipped: the portal benchmark runs on PostgreSQL only (its 100,000 runs are seeded set-based in SQL)'] };
  assertChromium();
  const runCount = ctx.quick ? QUICK_RUNS : RUNS;
  const steps = ctx.quick ? QUICK_STEPS : STEPS;
  const reps = ctx.quick ? QUICK_REPS : REPS;
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-bench-portal-'));
  let portal: RunningPortal | undefined;
  let browser: Browser | undefined;
  let floor: Awaited<ReturnType<typeof staticServer>> | undefined;
  try {
    const { place, store } = await engine.create();
    const blobs = path.join(tmp, 'blobs');
    let t = performance.now();
    progress(`portal: seeding ${formatInt(runCount)} runs (apps/web/scripts/seed-demo.ts --bulk, set-based)`);
    await seedDemo(place.url!, blobs, runCount);
    progress(`portal: seeded in ${formatMs(performance.now() - t)}; ${COMPARE_RUNS} runs × ${formatInt(steps)} steps × ${KEYS.length} metrics through Store.logMetrics`);
    t = performance.now();
    const compareIds = await seedCompareRuns(store, steps);
    progress(`portal: logged ${formatInt(COMPARE_RUNS * steps * KEYS.length)} points in ${formatMs(performance.now() - t)}`);
    const total = await store.countRuns();
    notes.push(`store: ${formatInt(total)} runs (${formatInt(runCount)} bulk + the demo's + ${COMPARE_RUNS} long ones), ${formatInt(COMPARE_RUNS * steps * KEYS.length)} points in the compared runs`);

    const build = await ensurePortalBuild((line) => progress(`portal: ${line}`));
    if (build.built) progress(`portal: built in ${formatMs(build.ms)}`);
    portal = await startPortal({ DATABASE_URL: place.url, CAIRN_BLOBS: blobs, REDIS_URL: process.env.REDIS_URL || DEFAULT_REDIS_URL, CAIRN_QUEUE_PREFIX: `cairn-bench-portal-${randomBytes(4).toString('hex')}` });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    floor = await staticServer();
    const base = portal.url;
    const compareUrl = `${base}/compare?ids=${compareIds.join(',')}`;

    // Warm-up, untimed: the server's first requests (route modules, query plans, JIT).
    {
      const c = await browser.newContext({ viewport: VIEWPORT });
      const p = await c.newPage();
      await p.goto(`${base}/runs`);
      await p.waitForSelector('[data-testid="run-row"]', { timeout: 60_000 });
      await p.goto(compareUrl);
      await p.waitForSelector('[data-testid="compare-charts"] canvas', { timeout: 60_000 });
      await c.close();
    }

    // --- 1. First contentful paint: the runs page vs a static page, fresh contexts ---------------
    progress(`portal: runs page first contentful paint, ${reps} fresh contexts`);
    const fcp: number[] = [];
    const rowsAt: number[] = [];
    const searchDone: number[] = [];
    const floorFcp: number[] = [];
    for (let i = 0; i < reps; i++) {
      const c = await browser.newContext({ viewport: VIEWPORT });
      await c.addInitScript({ content: ROWS_AT_SCRIPT });
      const p = await c.newPage();
      await p.goto(floor.url);
      floorFcp.push(await firstContentfulPaint(p));
      await p.goto(`${base}/runs`);
      fcp.push(await firstContentfulPaint(p));
      await p.waitForFunction('window.__rowsAt !== undefined', undefined, { timeout: 60_000 });
      rowsAt.push((await p.evaluate<number>('window.__rowsAt')) ?? NaN);
      searchDone.push((await p.evaluate<{ start: number; end: number }>(apiTimingScript('runs.search'))).end);
      await c.close();
    }
    const floorMed = median(floorFcp);
    rows.push(
      { bench: 'portal', engine: 'postgres', case: 'static page from a plain http server: first contentful paint', value: floorMed, unit: 'ms', stat: `median of ${reps}`, baseline: true },
      {
        bench: 'portal', engine: 'postgres', case: `/runs (${formatInt(total)} runs): first contentful paint, cold cache`, value: median(fcp), unit: 'ms', stat: `median of ${reps}`,
        extra: `first rows at ${formatMs(median(rowsAt))}, runs.search answered at ${formatMs(median(searchDone))}`, target: { op: '<=', value: PORTAL_TARGETS.fcpMs }, ratios: [{ vs: 'static page', value: median(fcp) / floorMed }],
      },
    );

    // --- 2. Filter change: Enter → the frame after the new first rows show -----------------------
    progress(`portal: filter changes, ${reps} different filters`);
    const filterMs: number[] = [];
    const filterDomMs: number[] = [];
    const filterAnswered: number[] = [];
    const apiMs: number[] = [];
    {
      const c = await browser.newContext({ viewport: VIEWPORT });
      const p = await c.newPage();
      await p.goto(`${base}/runs`);
      await p.waitForSelector('[data-testid="run-row"]');
      await p.waitForFunction(`/ of [\\d,]+ runs/.test(document.querySelector('[data-testid="runs-count"]')?.textContent ?? '')`, undefined, { timeout: 60_000 });
      // Each repetition picks other rows (a different number of layers), so the new first
      // rows can never be the ones already on screen, and no answer is cached in the page.
      for (let i = 0; i < reps; i++) {
        const filter = `params.layers = ${1 + (i % 6)} and metrics.val_accuracy > 0.9`;
        const expected = (await store.searchRuns({ filter, limit: 3 })).runs.map((r) => r.id);
        if (expected.length < 3) throw new Error(`the filter ${filter} matches fewer than 3 runs`);
        await p.locator('[data-testid="filter-input"]').fill(filter);
        await p.evaluate(armFilterScript(expected));
        await p.locator('[data-testid="filter-input"]').press('Enter');
        await p.waitForFunction('window.__filter.frame !== undefined', undefined, { timeout: 30_000 });
        const m = await p.evaluate<{ start: number; dom: number; frame: number; answered: number }>(`({
          ...window.__filter,
          // The page's own search for the new filter: the first runs.search call after Enter.
          answered: performance.getEntriesByType('resource').filter((e) => e.name.includes('runs.search') && e.startTime >= window.__filter.start).sort((a, b) => a.startTime - b.startTime)[0]?.responseEnd ?? NaN,
        })`);
        filterMs.push(m.frame - m.start);
        filterAnswered.push(m.answered - m.start);
        filterDomMs.push(m.dom - m.start);
        // The same query straight from the server, now that its plan and pages are warm.
        apiMs.push(await trpcQuery(base, 'runs.search', { filter, limit: 200 }));
      }
      await c.close();
    }
    const apiMed = median(apiMs);
    rows.push(
      { bench: 'portal', engine: 'postgres', case: 'runs.search over HTTP (the same filters, limit 200)', value: apiMed, unit: 'ms', stat: `median of ${reps}`, baseline: true },
      {
        bench: 'portal', engine: 'postgres', case: `/runs filter change: Enter → new rows shown (${formatInt(total)} runs)`, value: median(filterMs), unit: 'ms', stat: `median of ${reps}`,
        extra: `runs.search answered at ${formatMs(median(filterAnswered))}, rows in the DOM at ${formatMs(median(filterDomMs))}`, target: { op: '<=', value: PORTAL_TARGETS.filterMs }, ratios: [{ vs: 'runs.search', value: median(filterMs) / apiMed }],
      },
    );

    // --- 3. Compare 10 runs × 10,000 steps: navigation start → all charts drawn; long tasks ---------
    progress(`portal: /compare of ${COMPARE_RUNS} runs × ${formatInt(steps)} steps, ${reps} fresh contexts`);
    const compareMs: number[] = [];
    const longest: number[] = [];
    const compareApi: number[] = [];
    const firstCall: number[] = [];
    const lastAnswer: number[] = [];
    let points = '';
    for (let i = 0; i < reps; i++) {
      const c = await browser.newContext({ viewport: VIEWPORT });
      await c.addInitScript({ content: compareInitScript(KEYS.length) });
      const p = await c.newPage();
      await p.goto(compareUrl);
      await p.waitForFunction('window.__chartsAt !== undefined', undefined, { timeout: 60_000 });
      // Long-task entries arrive after the task: give the last ones a moment.
      await p.waitForTimeout(300);
      const m = await p.evaluate<{ at: number; long: { start: number; duration: number }[]; runs: number; points: string[] }>(`({
        at: window.__chartsAt,
        long: window.__long,
        runs: document.querySelectorAll('[data-testid="compare-run"]').length,
        points: [...document.querySelectorAll('[data-testid="compare-charts"] [data-testid="metric-chart"]')].map((e) => e.getAttribute('data-metric') + ' ' + e.getAttribute('data-points')),
      })`);
      if (m.runs !== COMPARE_RUNS) throw new Error(`the compare page shows ${m.runs} runs, not ${COMPARE_RUNS}`);
      const api = await p.evaluate<{ start: number; end: number }>(apiTimingScript('runs.compare'));
      firstCall.push(api.start);
      lastAnswer.push(api.end);
      compareMs.push(m.at);
      longest.push(Math.max(0, ...m.long.filter((l) => l.start <= m.at).map((l) => l.duration)));
      points = m.points.join(', ');
      await c.close();
      // The page's own request, straight from the server.
      compareApi.push(await trpcQuery(base, 'runs.compare', { runIds: compareIds, keys: 'all', maxPoints: COMPARE_POINTS }));
    }
    const compareApiMed = median(compareApi);
    rows.push(
      { bench: 'portal', engine: 'postgres', case: `runs.compare over HTTP (the page's request: 10 runs, every metric, ${COMPARE_POINTS} points a line)`, value: compareApiMed, unit: 'ms', stat: `median of ${reps}`, baseline: true },
      {
        bench: 'portal', engine: 'postgres', case: `/compare ${COMPARE_RUNS} runs × ${formatInt(steps)} steps × ${KEYS.length} metrics: navigation → all charts drawn`, value: median(compareMs), unit: 'ms',
        stat: `median of ${reps}`, extra: `first runs.compare call at ${formatMs(median(firstCall))}, last answered at ${formatMs(median(lastAnswer))}`,
        target: { op: '<=', value: PORTAL_TARGETS.compareMs }, ratios: [{ vs: 'runs.compare', value: median(compareMs) / compareApiMed }],
      },
      {
        bench: 'portal', engine: 'postgres', case: '/compare: longest long task until the charts are drawn', value: median(longest), unit: 'ms',
        stat: `median of ${reps} (max each)`, extra: `worst ${formatMs(Math.max(...longest))}`, target: { op: '<=', value: PORTAL_TARGETS.longTaskMs },
      },
    );
    notes.push(`compare charts (metric, x values drawn): ${points}`);
    notes.push(`chromium ${browser.version()}, headless, viewport ${VIEWPORT.width}×${VIEWPORT.height}, no CPU throttling; every page from \`next start\` on loopback`);
    return { rows, notes };
  } finally {
    await browser?.close().catch(() => {});
    await floor?.close().catch(() => {});
    await portal?.stop().catch(() => {});
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
