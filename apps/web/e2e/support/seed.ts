/**
 * The data the browser tests look at, made the way Cairn makes it (no hand-written rows):
 *
 * - two dataset snapshots of the Iris example (the second one changed: rows dropped,
 *   values blanked, a file added), hashed into the blob store by @cairn/snapshot,
 *   profiled, and recorded through the store;
 * - four training runs tracked with @cairn/tracking's `startRun` (metrics logged step by
 *   step, notes, params, tags, the snapshot they read): two finished, one failed with a
 *   reason, one abandoned with a reason;
 * - a model version registered from the best run, with an alias;
 * - a queued run submitted with @cairn/pipeline's `submitRun` (the Iris example's
 *   training module, bundled, pinned to the newest snapshot, enqueued on the `ci` tier)
 *   that no worker ever takes, so it stays queued until a test cancels it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { submitRun } from '@cairn/pipeline';
import { profileSnapshot, snapshotDir } from '@cairn/snapshot';
import type { Store } from '@cairn/store';
import { startRun, type TrackedRun } from '@cairn/tracking';
import { REPO_ROOT } from './build.ts';
import type { World } from './world.ts';

const IRIS = path.join(REPO_ROOT, 'examples/iris-mlp');
export const EXPERIMENT = 'iris-e2e';

export interface SeededRun {
  id: string;
  name: string;
  status: 'finished' | 'failed' | 'abandoned';
  reason: string | null;
  params: Record<string, string | number | boolean>;
  steps: number;
}

export interface Seeded {
  experiment: string;
  /** best and steady finished; hot failed; plateau abandoned. */
  runs: { best: SeededRun; steady: SeededRun; hot: SeededRun; plateau: SeededRun };
  /** Note bodies (markdown) as logged. */
  notes: { best: string; plateau: string };
  snapshots: { v1: string; v2: string };
  dataset: string;
  model: { name: string; version: number };
  queued: { id: string; experiment: string };
}

/** A smooth learning curve with a little deterministic wobble. */
function curve(i: number, n: number, start: number, end: number, wobble: number): number {
  const t = i / Math.max(1, n - 1);
  return end + (start - end) * Math.exp(-5 * t) + wobble * Math.sin(i * 1.7);
}

async function train(run: TrackedRun, steps: number, quality: number): Promise<void> {
  for (let i = 0; i < steps; i++) {
    run.log(
      {
        loss: curve(i, steps, 1.2, 0.15 / quality, 0.02),
        val_loss: curve(i, steps, 1.25, 0.2 / quality, 0.03),
        val_accuracy: curve(i, steps, 0.33, Math.min(0.99, 0.7 + 0.25 * quality), 0.01),
      },
      { step: i },
    );
  }
  await run.flush();
}

/** iris v2: every third setosa row dropped, every tenth sepal_width blanked, a README added. */
function irisV2(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const [head, ...rows] = fs.readFileSync(path.join(IRIS, 'data/iris.csv'), 'utf8').trim().split('\n');
  const out = [head!];
  rows.forEach((line, i) => {
    const cells = line.split(',');
    if (cells[5] === 'setosa' && i % 3 === 0) return;
    if (i % 10 === 0) cells[2] = '';
    out.push(cells.join(','));
  });
  fs.writeFileSync(path.join(dir, 'iris.csv'), `${out.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'README.txt'), 'v2: fewer setosa, some sepal_width missing\n');
  return dir;
}

/** The worker that took over the narrow-steady run (its second attempt). */
export const STEADY_WORKER = 'e2e-host:4242:ab';

export async function seed(store: Store, world: World): Promise<Seeded> {
  const snapshot = async (dir: string, message: string) => {
    const snap = await snapshotDir(dir, { store: world.blobs });
    const profile = await profileSnapshot(snap.id, { store: world.blobs, labelColumn: 'species' });
    return store.recordSnapshot({ dataset: 'iris', id: snap.id, message, fileCount: snap.files, bytes: snap.bytes, profile });
  };
  const v1 = await snapshot(path.join(IRIS, 'data'), 'original');
  const v2 = await snapshot(irisV2(path.join(world.dir, 'iris-v2')), 'fewer setosa, blanks in sepal_width');

  const experiment = await store.ensureExperiment({ name: EXPERIMENT, description: 'Iris MLP: learning rates and widths (browser tests)' });
  await store.setExperimentTags(experiment.id, { objective: 'val_accuracy max' });

  const track = async (
    name: string,
    params: SeededRun['params'],
    snapshotId: string,
    steps: number,
    quality: number,
    end: (run: TrackedRun) => Promise<void>,
    status: SeededRun['status'],
    reason: string | null,
  ): Promise<SeededRun> => {
    const run = await startRun({
      store,
      experiment: EXPERIMENT,
      name,
      params,
      tags: { dataset: 'iris', suite: 'e2e' },
      snapshotIds: [snapshotId],
      cwd: REPO_ROOT,
      processHooks: false,
      heartbeatIntervalMs: 0,
    });
    await train(run, steps, quality);
    await end(run);
    return { id: run.id, name, status, reason, params, steps };
  };

  const hotReason = 'diverged: training loss 1e+12 at step 37 (learning rate 5 on unscaled features)';
  const plateauReason = 'plateau: val_accuracy improved by less than 0.01 in 15 epochs (best 0.821 at epoch 12)';
  const notes = {
    best: '## Why wide\n\nA **wider** hidden layer with `lr=0.05` beat the *narrow* one.\n\n- 600 steps\n- compare with narrow-steady',
    plateau: 'Stopped: validation accuracy stuck at 0.821. Try a larger learning rate.',
  };

  // The best run's exported model: a real blob, logged as the run's artifact, then registered.
  const modelJson = new TextEncoder().encode(JSON.stringify({ format: 'layers-model', note: 'browser-test model', hiddenUnits: 32 }));
  const modelHash = await world.blobs.put(modelJson);
  const best = await track(
    'wide-fast',
    { learningRate: 0.05, hiddenUnits: 32, optimizer: 'adam', epochs: 50 },
    v2.id,
    600,
    1.3,
    async (r) => {
      await r.note(notes.best);
      await r.logArtifact({ path: 'model/model.json', hash: modelHash, size: modelJson.byteLength, mediaType: 'application/json' });
      await r.finish();
    },
    'finished',
    null,
  );
  // Taken over by a worker, which resumed it from a checkpoint and finished it: its attempts, as the store records them.
  const steady = await track(
    'narrow-steady',
    { learningRate: 0.01, hiddenUnits: 8, optimizer: 'adam', epochs: 50 },
    v1.id,
    400,
    1,
    async (r) => {
      const { attempt } = await store.claimRun(r.id, { workerId: STEADY_WORKER });
      await store.updateAttempt(r.id, attempt, { resumedFromStep: 200 });
      await store.updateAttempt(r.id, attempt, { outcome: 'finished' });
      await r.finish();
    },
    'finished',
    null,
  );
  const hot = await track('too-hot', { learningRate: 5, hiddenUnits: 16, optimizer: 'sgd', epochs: 50 }, v1.id, 38, 0.3, (r) => r.fail(hotReason), 'failed', hotReason);
  const plateau = await track(
    'plateau',
    { learningRate: 0.0005, hiddenUnits: 16, optimizer: 'adam', epochs: 50 },
    v1.id,
    150,
    0.6,
    (r) => r.note(notes.plateau).then(() => r.end('abandoned', plateauReason)),
    'abandoned',
    plateauReason,
  );

  // The extended gate's verdict, as the pipeline records it.
  await store.recordGateResult({ runId: best.id, tier: 'extended', passed: true, expression: "status = 'finished' and metrics.val_accuracy >= 0.9", values: { status: 'finished', 'metrics.val_accuracy': 0.93 }, missing: [] });

  const mv = await store.registerModelVersion({ name: 'iris-mlp', runId: best.id, artifactHash: modelHash, description: 'wide-fast' });
  await store.setModelAlias('iris-mlp', 'production', mv.version);

  const queued = await submitRun({
    store,
    blobs: world.blobs,
    queues: world.queues,
    file: path.join(IRIS, 'train.ts'),
    tier: 'ci',
    dataset: 'iris',
    experiment: EXPERIMENT,
    params: { hiddenUnits: 12 },
  });

  return {
    experiment: EXPERIMENT,
    runs: { best, steady, hot, plateau },
    notes,
    snapshots: { v1: v1.id, v2: v2.id },
    dataset: 'iris',
    model: { name: 'iris-mlp', version: mv.version },
    queued: { id: queued.runId, experiment: EXPERIMENT },
  };
}
