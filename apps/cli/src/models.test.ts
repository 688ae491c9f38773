import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPackagedModel } from '@cairn/engine';
import { openStore } from '@cairn/store';
import { cli, spawnCli } from './test-support.ts';

/**
 * The registry from the command line on a real run: `cairn run` trains the Iris example,
 * `cairn models` registers its model, moves aliases, shows the version with its run, code
 * and data, and packages it into a folder the engine's loader predicts with.
 */
describe('cairn models', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-models-cli-'));
  const home = path.join(tmp, 'home');
  const env = { CAIRN_BLOBS: '', CAIRN_BACKEND: '' };
  const cairn = (...args: string[]) => cli(['--home', home, ...args], { env });
  let runId = '';

  beforeAll(async () => {
    expect((await cairn('init')).code).toBe(0);
    const r = await cairn('run', 'examples/iris-mlp/train.ts', '--data', 'examples/iris-mlp/data', '--param', 'epochs=20', '--json');
    expect(r.code, r.stderr).toBe(0);
    runId = (JSON.parse(r.stdout) as { runId: string }).runId;
  }, 180_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('registers, aliases, lists, shows, packages and keeps the alias history', async () => {
    let r = await cairn('models', 'register', runId.slice(0, 8), '--name', 'iris', '--description', 'first cut', '--tag', 'team=flowers', '--alias', 'staging');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`registered iris@1 from run ${runId.slice(0, 8)}; staging → 1\n`);
    r = await cairn('models', 'register', runId, '--name', 'iris', '--json');
    expect(JSON.parse(r.stdout)).toMatchObject({ model: 'iris', version: 2, runId });

    r = await cairn('models', 'alias', 'iris@1', 'production');
    expect(r.stdout).toBe('iris@production → 1\n');
    r = await cairn('models', 'alias', 'iris@2', 'production');
    expect(r.stdout).toBe('iris@production → 2 (was 1)\n');

    r = await cairn('models', 'list', '--json');
    expect(JSON.parse(r.stdout).models).toEqual([expect.objectContaining({ name: 'iris', versionCount: 2, latestVersion: 2, aliases: { production: 2, staging: 1 } })]);
    r = await cairn('models', 'list');
    expect(r.stdout).toMatch(/^NAME\s+VERSIONS\s+LATEST\s+ALIASES\s+UPDATED\n/);
    expect(r.stdout).toMatch(/iris\s+2\s+2\s+production→2, staging→1/);

    r = await cairn('models', 'show', 'iris@staging', '--json');
    const shown = JSON.parse(r.stdout) as { version: number; aliases: string[]; description: string; tags: Record<string, string>; run: { id: string; snapshotIds: string[]; params: Record<string, string> } };
    expect(shown).toMatchObject({ version: 1, aliases: ['staging'], description: 'first cut', tags: { team: 'flowers' }, run: { id: runId, params: { epochs: '20' } } });
    expect(shown.run.snapshotIds).toHaveLength(1);
    r = await cairn('models', 'show', 'iris@production');
    expect(r.stdout).toMatch(/^iris@2 {2}\(production\)\n/);
    expect(r.stdout).toMatch(new RegExp(`^run {9}${runId} `, 'm'));
    expect(r.stdout).toMatch(/^data {8}[0-9a-f]{12}$/m);
    r = await cairn('models', 'show', 'iris');
    expect(r.stdout).toMatch(/^iris {2}2 versions; production→2, staging→1\n/);

    const out = path.join(tmp, 'pkg');
    r = await cairn('models', 'package', 'iris@production', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^packaged iris@2 into /);
    const model = await loadPackagedModel(out);
    try {
      const [p] = (await model.predict({ rows: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] })) as { label: string; probabilities: Record<string, number> }[];
      expect(Object.keys(p!.probabilities).sort()).toEqual(['setosa', 'versicolor', 'virginica']);
      expect(p!.label).toBe('setosa'); // a textbook setosa, after 20 epochs
    } finally {
      model.dispose();
    }
    r = await cairn('models', 'package', 'iris@production', '--out', out);
    expect(r.code).toBe(2); // refused input, as a usage error
    expect(r.stderr).toMatch(/not empty/);

    r = await cairn('models', 'history', 'iris', '--json');
    expect((JSON.parse(r.stdout) as { moves: { alias: string; version: number; previous: number | null }[] }).moves.map((m) => [m.alias, m.version, m.previous])).toEqual([
      ['staging', 1, null],
      ['production', 1, null],
      ['production', 2, 1],
    ]);
    r = await cairn('models', 'alias', 'iris', 'staging', '--remove');
    expect(r.stdout).toBe('removed iris@staging (was 1)\n');
  }, 120_000);

  it('cairn serve answers predictions, records its deployment and marks it stopped on SIGTERM', async () => {
    const server = spawnCli(['--home', home, 'serve', 'iris@production', '--port', '0', '--environment', 'test'], { env });
    let url = '';
    try {
      [, url] = (await server.waitFor(/serving iris@2 \(iris@production\) on (http:\/\/\S+);/, 60_000)) as unknown as [string, string];
      const res = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 }] }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model: string; version: number; predictions: { label: string }[] };
      expect(body).toMatchObject({ model: 'iris', version: 2 });
      expect(['setosa', 'versicolor', 'virginica']).toContain(body.predictions[0]!.label);
      const bad = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"rows":[{"sepal_length":"x"}]}' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_INPUT');
      server.proc.kill('SIGTERM');
      expect((await server.exited).code).toBe(0);
    } finally {
      server.proc.kill('SIGKILL');
    }
    const store = await openStore({ home });
    try {
      const v = await store.resolveModelVersion('iris', 2);
      const deployments = await store.listDeployments({ modelVersionId: v.id });
      expect(deployments).toHaveLength(1);
      expect(deployments[0]).toMatchObject({ environment: 'test' });
      expect(deployments[0]!.stoppedAt).toBeInstanceOf(Date);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('says clearly what is wrong: unknown model or alias, a bad reference, a run with no model', async () => {
    let r = await cairn('models', 'show', 'nope@production');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model .*nope/);
    r = await cairn('models', 'show', 'iris@canary');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/iris@canary/);
    r = await cairn('models', 'show', '../etc@x');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/invalid model reference/);
    r = await cairn('models', 'alias', 'iris', 'production');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/say which version: iris@VERSION/);
    r = await cairn('models', 'alias', 'iris@1', 'latest');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/invalid alias 'latest'/);

    const store = await openStore({ home });
    let empty = '';
    try {
      const exp = await store.ensureExperiment({ name: 'empty' });
      const run = await store.createRun({ experimentId: exp.id });
      await store.endRun(run.id, 'abandoned', 'plateau');
      empty = run.id;
    } finally {
      await store.close();
    }
    r = await cairn('models', 'register', empty, '--name', 'iris');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/has no exported model/);
    r = await cairn('models', 'show', 'iris', '--json');
    expect((JSON.parse(r.stdout) as { versions: unknown[] }).versions).toHaveLength(2);
  }, 60_000);
});
