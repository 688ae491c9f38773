import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '@cairn/store';
import { cli } from './test-support.ts';

/**
 * `cairn run` end to end on the Iris example: a real definition, a real snapshot of its
 * data folder, real tfjs training on this machine's best backend, recorded in an
 * embedded store.
 */
describe('cairn run', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-run-'));
  const home = path.join(tmp, 'home');
  const env = { CAIRN_BLOBS: '', CAIRN_BACKEND: '' };
  const run = (...args: string[]) => cli(['--home', home, 'run', ...args], { env });
  let first = '';

  beforeAll(async () => {
    expect((await cli(['--home', home, 'init'], { env })).code).toBe(0);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('trains the Iris example from its data folder and records params, metrics, backend, data and model', async () => {
    const r = await run('examples/iris-mlp/train.ts', '--data', 'examples/iris-mlp/data', '--param', 'epochs=15', '--json');
    expect(r.code, r.stderr).toBe(0);
    const outcome = JSON.parse(r.stdout) as { runId: string; status: string; metrics: Record<string, number>; backend: { name: string; skipped: { name: string }[] }; snapshotId: string; artifacts: { path: string }[] };
    expect(outcome.status).toBe('finished');
    expect(outcome.metrics.val_acc).toBeGreaterThan(0.6);
    expect(outcome.backend.skipped.map((s) => s.name)).toEqual(expect.arrayContaining(['tensorflow', 'webgpu']));
    expect(outcome.artifacts.map((a) => a.path)).toEqual(['model/model.json', 'model/weights.bin', 'model/card.json']);
    first = outcome.runId;

    const store = await openStore({ home });
    try {
      const detail = await store.getRun(first);
      expect(detail.status).toBe('finished');
      expect(detail.params).toMatchObject({ epochs: '15', batchSize: '16' });
      expect(detail.metrics.val_acc?.count).toBe(15);
      expect(detail.environment.tfjsBackend).toBe(outcome.backend.name);
      expect(detail.snapshotIds).toEqual([outcome.snapshotId]);
      const artifacts = (await store.listArtifacts(first)).map((a) => a.path);
      expect(artifacts).toContain('checkpoints/step-00000120.ckpt');
      expect(artifacts).toContain('model/model.json');
      expect((await store.listSnapshots('iris-mlp-data')).map((s) => s.id)).toEqual([outcome.snapshotId]);
    } finally {
      await store.close();
    }
  });

  it('resumes from the last checkpoint of a run as a new run with the same params and data', async () => {
    const r = await run('examples/iris-mlp/train.ts', '--resume', first.slice(0, 8), '--param', 'epochs=20', '--json');
    expect(r.code, r.stderr).toBe(0);
    const outcome = JSON.parse(r.stdout) as { runId: string; status: string; steps: number; epochs: number };
    expect(outcome.status).toBe('finished');
    // 15 epochs of 8 steps were done; 5 more make 160.
    expect(outcome.steps).toBe(160);
    const store = await openStore({ home });
    try {
      const detail = await store.getRun(outcome.runId);
      expect(detail.tags.resumed_from).toBe(first);
      expect(detail.params.epochs).toBe('20');
      expect(detail.metrics.val_acc?.count).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('abandons a run that falls behind earlier runs of the experiment (bandit policy against their curves)', async () => {
    const r = await run('examples/iris-mlp/train.ts', '--data', 'examples/iris-mlp/data', '--param', 'epochs=15', '--param', 'learningRate=0.000001', '--policy', '{"kind":"bandit","slack":0.05,"minEvaluations":2}', '--json');
    expect(r.code, r.stderr).toBe(0);
    const outcome = JSON.parse(r.stdout) as { status: string; reason: string; epochs: number };
    expect(outcome.status).toBe('abandoned');
    expect(outcome.reason).toMatch(/^bandit: /);
    expect(outcome.epochs).toBeLessThan(15);
    const bad = await run('examples/iris-mlp/train.ts', '--policy', '{"kind":"plateau"}');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/patience/);
  });

  it('ends the run failed with the reason when a param has the wrong type (exit 2: bad input)', async () => {
    const r = await run('examples/iris-mlp/train.ts', '--data', 'examples/iris-mlp/data', '--param', 'epochs=lots');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid params for iris-mlp: epochs: /);
    const store = await openStore({ home });
    try {
      const runs = await store.searchRuns({ filter: "status = 'failed'" });
      expect(runs.runs).toHaveLength(1);
      expect(runs.runs[0]!.statusReason).toMatch(/^invalid params for iris-mlp: epochs: /);
    } finally {
      await store.close();
    }
  });

  it('refuses a module that is not a training definition, and an unknown backend', async () => {
    const notDef = await run('apps/cli/src/limit.ts', '--data', 'examples/iris-mlp/data');
    expect(notDef.code).toBe(2);
    expect(notDef.stderr).toMatch(/apps\/cli\/src\/limit\.ts must default-export defineTraining\(\{\.\.\.\}\): it has no default export/);
    const badBackend = await run('examples/iris-mlp/train.ts', '--backend', 'cuda');
    expect(badBackend.code).toBe(2);
  });
});
