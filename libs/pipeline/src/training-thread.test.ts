import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricPoint, Reporter } from '@cairn/engine';
import { LocalBlobStore } from '@cairn/snapshot';
import { resolvePipelineConfig } from './config/index.ts';
import { runTrainingJob, type TrainingJob } from './training-job.ts';
import { TrainingThread } from './training-thread.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');

/** A reporter that keeps what it is told, in order. */
function recorder() {
  const points: MetricPoint[] = [];
  const artifacts: string[] = [];
  const environment: Record<string, unknown>[] = [];
  const reporter: Reporter = {
    metrics: (p) => void points.push(...p),
    artifact: (a) => void artifacts.push(a.path),
    environment: (f) => void environment.push(f),
  };
  return { points, artifacts, environment, reporter };
}

/** What the training decides (timings and memory differ from run to run and thread to thread). */
const learned = (points: MetricPoint[]) => points.filter((p) => /^(val_)?(loss|acc)$|^epoch$/.test(p.key));

/**
 * Training in the worker's training thread is the same training: the same metrics, point
 * for point, as on the main thread; checkpoints, the backend (cpu and wasm load in the
 * thread), cancellation and a module that fails to load come through as they do there.
 */
describe('the training thread', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-thread-'));
  const blobs = new LocalBlobStore(path.join(tmp, 'blobs'));
  const thread = new TrainingThread();
  afterAll(async () => {
    await thread.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const job = (over: Partial<TrainingJob> = {}): TrainingJob => ({
    definitionFile: path.join(IRIS, 'train.ts'),
    config: resolvePipelineConfig({}),
    tier: 'nightly',
    params: { epochs: 4 },
    dataDir: path.join(IRIS, 'data'),
    snapshotId: 'a'.repeat(64),
    evaluateTest: false,
    backend: 'cpu',
    checkpointEveryEpochs: 2,
    code: { path: 'train.ts', hash: 'b'.repeat(64) },
    reportSteps: 3,
    ...over,
  });

  it('trains as the main thread does: the same metrics, checkpoints and outcome, its start reported', async () => {
    const main = recorder();
    const inline = await runTrainingJob(job(), { reporter: main.reporter, store: blobs });
    const off = recorder();
    let progress = 0;
    const threaded = await thread.train(job(), blobs.root, { reporter: off.reporter, onProgress: () => void progress++ });
    expect('outcome' in threaded && threaded.outcome.result.status).toBe('finished');
    expect('outcome' in inline && inline.outcome.result.metrics).toEqual('outcome' in threaded && threaded.outcome.result.metrics);
    expect(learned(off.points).length).toBeGreaterThan(0);
    expect(learned(off.points)).toEqual(learned(main.points));
    expect(off.artifacts).toEqual(main.artifacts);
    expect(off.artifacts.filter((a) => a.startsWith('checkpoints/'))).toHaveLength(2);
    expect(off.environment[0]).toMatchObject({ tfjsBackend: 'cpu' });
    // Its stages (params, data, backend, model, train, export) and its first 3 steps.
    expect(progress).toBe(9);
    expect('objective' in threaded && threaded.objective).toEqual({ metric: 'val_acc', direction: 'maximize' });
  }, 120_000);

  it("registers the job's trainer modules in the thread and trains on the best one, recording it; a forced name wins", async () => {
    const fixture = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/trainers/wrapped.ts')).href;
    const off = recorder();
    const { backend: _cpu, ...auto } = job({ params: { epochs: 1 } });
    const r = await thread.train({ ...auto, trainerModules: [fixture, '@cairn/no-such-trainers'] }, blobs.root, { reporter: off.reporter });
    expect('outcome' in r && r.outcome.result.status).toBe('finished');
    expect('outcome' in r && r.outcome.trainer?.name).toBe('fixture-wrapped');
    expect(off.environment[0]).toMatchObject({ trainer: 'fixture-wrapped', trainerReason: 'best trainer for this model here', trainerDetail: 'a test fixture' });
    // Forced by name, as a worker's --trainer does: tfjs, though the fixture ranks first.
    const forced = recorder();
    const f = await thread.train({ ...auto, trainerModules: [fixture], trainer: 'tfjs' }, blobs.root, { reporter: forced.reporter });
    expect('outcome' in f && f.outcome.trainer).toMatchObject({ name: 'tfjs', forcedBy: 'option' });
  }, 120_000);

  it('loads the wasm backend in the thread', async () => {
    const off = recorder();
    const r = await thread.train(job({ backend: 'wasm', params: { epochs: 1 } }), blobs.root, { reporter: off.reporter });
    expect('outcome' in r && r.outcome.result.status).toBe('finished');
    expect(off.environment[0]).toMatchObject({ tfjsBackend: 'wasm' });
  }, 120_000);

  it('stops when its signal aborts, writing a checkpoint first; a failing artifact write reaches the training', async () => {
    const off = recorder();
    const stop = new AbortController();
    const r = await thread.train(job({ params: { epochs: 5000 } }), blobs.root, {
      reporter: {
        ...off.reporter,
        metrics: (p) => {
          off.reporter.metrics(p);
          if (p.some((x) => x.key === 'epoch' && x.value === 3)) stop.abort('shutting down');
        },
      },
      signal: stop.signal,
    });
    expect('outcome' in r && r.outcome.result).toMatchObject({ status: 'cancelled', reason: 'cancelled: shutting down' });
    expect(off.artifacts.at(-1)).toMatch(/^checkpoints\//);

    const refusing = await thread.train(job(), blobs.root, {
      reporter: { ...recorder().reporter, artifact: () => Promise.reject(new Error('attempt 1 of run x has been superseded')) },
    });
    expect('outcome' in refusing && refusing.outcome.result).toMatchObject({ status: 'failed', reason: expect.stringMatching(/superseded/) });
  }, 120_000);

  it('reports a module that does not load instead of training', async () => {
    const bad = path.join(tmp, 'bad.mjs');
    fs.writeFileSync(bad, 'export default { name: 42 };\n');
    const r = await thread.train(job({ definitionFile: bad }), blobs.root, { reporter: recorder().reporter });
    expect(r).toEqual({ loadError: expect.stringMatching(/must default-export defineTraining/) });
  }, 60_000);
});
