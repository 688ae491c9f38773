import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@cairn/pipeline';
import { openStore } from '@cairn/store';
import { cli, spawnCli } from './test-support.ts';

/**
 * `cairn ui` for real: the production portal (built when its sources changed, under the
 * build lock the browser tests share) on an embedded store that the command hosts, so
 * other commands keep working beside it; SIGTERM stops the portal and frees the store.
 */
describe('cairn ui', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-ui-'));
  const home = path.join(tmp, 'home');
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('serves the portal over the store it shares, and stops on SIGTERM', async () => {
    const store = await openStore({ home });
    const exp = await store.ensureExperiment({ name: 'ui-check', description: 'made before cairn ui' });
    const run = await store.createRun({ experimentId: exp.id, name: 'before-ui', params: { lr: 0.1 } });
    await store.endRun(run.id, 'abandoned', 'plateau: no improvement');
    await store.close();

    const port = await freePort();
    // No Redis on port 1: the portal runs with the queues off rather than failing.
    const ui = spawnCli(['--home', home, 'ui', '--port', String(port)], { env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    try {
      const [, url] = await ui.waitFor(/Cairn portal: (http:\/\/\S+)/, 300_000, 'stdout');
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect(ui.stdout()).toMatch(/queues off/);

      expect((await fetch(`${url}/api/health`)).status).toBe(200);
      const page = await fetch(`${url}/runs`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<title>[^<]*Cairn/);
      // The API answers from the store the command was given.
      const res = await fetch(`${url}/api/trpc/runs.search?input=${encodeURIComponent(JSON.stringify({ json: { limit: 10 } }))}`);
      const body = (await res.json()) as { result: { data: { json: { runs: { name: string; status: string; statusReason: string | null }[] } } } };
      expect(body.result.data.json.runs).toEqual([expect.objectContaining({ name: 'before-ui', status: 'abandoned', statusReason: 'plateau: no improvement' })]);

      // Another command reads the same embedded store while the portal holds it.
      const other = await cli(['--home', home, 'experiments', 'list'], { timeoutMs: 120_000 });
      expect(other.code, other.stderr).toBe(0);
      expect(other.stdout).toMatch(/ui-check/);

      ui.proc.kill('SIGTERM');
      const end = await ui.exited;
      expect(end.code, ui.stderr()).toBe(0);
      await expect(fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
      // The store is free again: a process of its own opens it.
      const again = await openStore({ home });
      expect((await again.searchRuns({ limit: 10 })).runs).toHaveLength(1);
      await again.close();
    } finally {
      if (ui.proc.exitCode === null && ui.proc.signalCode === null) ui.proc.kill('SIGKILL');
    }
  }, 420_000);

  it('stops at once on a CAIRN_ALLOWED_HOSTS entry that is not a host name, naming it, rather than serve a portal that refuses every request', async () => {
    const r = await cli(['--home', path.join(tmp, 'bad-hosts'), 'ui', '--port', String(await freePort())], { env: { CAIRN_ALLOWED_HOSTS: 'cairn.internal,http://cairn.internal:3000', REDIS_URL: 'redis://127.0.0.1:1' }, timeoutMs: 120_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CAIRN_ALLOWED_HOSTS: 'http:\/\/cairn\.internal:3000' is not a host name/);
    expect(r.stdout).not.toMatch(/Cairn portal:/);
  }, 180_000);
});
