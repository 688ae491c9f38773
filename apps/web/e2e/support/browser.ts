/**
 * Headless Debian chromium driven by playwright-core, offline: no sandbox (containers),
 * no GPU, no QUIC, none of the background traffic a fresh profile starts (first run,
 * component updates, sync), in a fresh profile directory of its own.
 *
 * playwright refuses a `--user-data-dir` flag in `launch()`; the same thing is
 * `launchPersistentContext(dir)`, which is what this uses.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface OpenBrowser {
  context: BrowserContext;
  /** Page errors, console errors, 5xx answers and failed requests seen so far (a test can assert there are none). */
  problems: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Fails at once, with what to do, when Debian's chromium is not installed. */
export function assertChromium(): void {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install chromium (apt-get install -y chromium)`);
}

/** `args`: more Chromium flags (a `--host-resolver-rules` that plays a rebound DNS name, say). */
export async function openBrowser(opts: { viewport?: { width: number; height: number }; args?: string[] } = {}): Promise<OpenBrowser> {
  assertChromium();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
      viewport: opts.viewport ?? { width: 1400, height: 900 },
      timeout: 60_000,
    });
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (e) => problems.push(`pageerror on ${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      // Chromium logs every HTTP error status as a console error; those are judged by status below.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error on ${page.url()}: ${m.text()}`);
    });
    // A 4xx can be the answer a page expects (a filter that does not parse); a 5xx never is.
    page.on('response', (r) => {
      if (r.status() >= 500) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => {
      // Navigating away aborts what the last page still had in flight (net::ERR_ABORTED): not a fault.
      if (!r.failure()?.errorText.includes('ERR_ABORTED')) problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
    });
  };
  context.on('page', watch);
  context.pages().forEach(watch);
  let initial: Page | undefined = context.pages()[0];
  return {
    context,
    problems,
    async newPage() {
      // A persistent context opens with one blank page: hand that out first.
      const page = initial ?? (await context.newPage());
      initial = undefined;
      return page;
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
