import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '@cairn/store';
import { cli } from './test-support.ts';

// Whether the native core built on this machine, read from its build record (not from the code under test).
const nativeStatus = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../libs/native/build/status.json');
const nativeBuilt = fs.existsSync(nativeStatus) && (JSON.parse(fs.readFileSync(nativeStatus, 'utf8')) as { ok?: boolean }).ok === true;

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
    const outcome = JSON.parse(r.stdout) as { runId: string; status: string; metrics: Record<string, number>; backend: { name: string; skipped: { name: string }[] }; trainer: { name: string; skipped: { name: string; reason: string }[] }; snapshotId: string; artifacts: { path: string }[] };
    expect(outcome.status).toBe('finished');
    expect(outcome.metrics.val_acc).toBeGreaterThan(0.6);
    // The native core where it built; else tfjs on its best backend, saying why native was skipped.
    expect(outcome.trainer.name).toBe(nativeBuilt ? 'native-cpu' : 'tfjs');
    expect(outcome.trainer.skipped.map((s) => s.name)).toEqual(nativeBuilt ? [] : ['native-cpu']);
    if (!nativeBuilt) expect(outcome.backend.skipped.map((s) => s.name)).toEqual(expect.arrayContaining(['tensorflow', 'webgpu']));
    expect(outcome.artifacts.map((a) => a.path)).toEqual(['model/model.json', 'model/weights.bin', 'model/card.json']);
    first = outcome.runId;

    const store = await openStore({ home });
    try {
      const detail = await store.getRun(first);
      expect(detail.status).toBe('finished');
      expect(detail.params).toMatchObject({ epochs: '15', batchSize: '16' });
      expect(detail.metrics.val_acc?.count).toBe(15);
      expect(detail.environment.tfjsBackend).toBe(outcome.backend.name);
      expect(detail.environment.trainer).toBe(outcome.trainer.name);
      expect(detail.environment.trainersSkipped).toEqual(outcome.trainer.skipped);
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

  it('trains digits-cnn on native-cpu by default where it built, to the metrics tfjs reaches with the same seed', async () => {
    const args = ['examples/digits-cnn/train.ts', '--data', 'examples/digits-cnn/data', '--param', 'epochs=1', '--json'];
    const auto = await run(...args);
    expect(auto.code, auto.stderr).toBe(0);
    const a = JSON.parse(auto.stdout) as { status: string; metrics: Record<string, number>; trainer: { name: string } };
    expect(a.status).toBe('finished');
    expect(a.trainer.name).toBe(nativeBuilt ? 'native-cpu' : 'tfjs');
    const forced = await run(...args, '--trainer', 'tfjs');
    expect(forced.code, forced.stderr).toBe(0);
    const t = JSON.parse(forced.stdout) as { metrics: Record<string, number>; trainer: { name: string; forcedBy: string } };
    expect(t.trainer).toMatchObject({ name: 'tfjs', forcedBy: 'option' });
    // Same seed, same batches, same dropout masks: within half a point (they agree to 4 digits here).
    expect(Math.abs(a.metrics.val_acc! - t.metrics.val_acc!)).toBeLessThanOrEqual(0.005);
    expect(a.metrics.val_acc).toBeGreaterThan(0.5);
  });

  it('refuses a module that is not a training definition, and an unknown backend', async () => {
    const notDef = await run('apps/cli/src/limit.ts', '--data', 'examples/iris-mlp/data');
    expect(notDef.code).toBe(2);
    expect(notDef.stderr).toMatch(/apps\/cli\/src\/limit\.ts must default-export defineTraining\(\{\.\.\.\}\): it has no default export/);
    const badBackend = await run('examples/iris-mlp/train.ts', '--backend', 'cuda');
    expect(badBackend.code).toBe(2);
    const badTrainer = await run('examples/iris-mlp/train.ts', '--trainer', 'cuda');
    expect(badTrainer.code).toBe(2);
    expect(badTrainer.stderr).toMatch(/--trainer.*cuda.*native-cuda, native-cpu, tfjs/s);
  });
});
