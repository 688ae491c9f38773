import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTraining, loadTrainerModules, probeTrainers, runTraining, type Reporter } from '@cairn/engine';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { describeNative, tf, tfl, useCpu } from './test-support.ts';

/** @cairn/native through the engine's registry, as `cairn run` and the worker load it. */

const dir = mkdtempSync(join(tmpdir(), 'cairn-native-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const reporter: Reporter = { metrics() {}, artifact() {} };

function definition(recurrent: boolean) {
  return defineTraining({
    name: 'registry',
    params: z.object({ epochs: z.number().default(2), batchSize: z.number().default(8) }),
    data: () => {
      const xs = tf.tensor2d(Array.from({ length: 64 }, (_, i) => [Math.sin(i), Math.cos(i), (i % 5) / 5]));
      const ys = tf.tensor2d(Array.from({ length: 64 }, (_, i) => (Math.sin(i) > 0 ? [1, 0] : [0, 1])));
      return { train: { xs, ys }, info: { inputShape: [3], numClasses: 2, counts: { train: 64 } } };
    },
    model: () =>
      tfl.sequential({
        layers: recurrent
          ? [tfl.layers.reshape({ inputShape: [3], targetShape: [3, 1] }), tfl.layers.simpleRNN({ units: 4, recurrentInitializer: 'glorotUniform' }), tfl.layers.dense({ units: 2, activation: 'softmax' })]
          : [tfl.layers.dense({ inputShape: [3], units: 8, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })],
      }),
    compile: () => ({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] }),
    objective: { metric: 'acc', direction: 'maximize' },
  });
}

describeNative('registry: native-cpu chosen by runTraining, refused models fall back to tfjs', () => {
  beforeAll(async () => {
    await useCpu();
    const [load] = await loadTrainerModules(['@cairn/native']);
    expect(load).toMatchObject({ ok: true, trainers: ['native-cpu'] });
  });

  it('lists native-cpu as usable, before tfjs', () => {
    const names = probeTrainers().map((p) => `${p.name}:${p.usable}`);
    expect(names.indexOf('native-cpu:true')).toBeGreaterThanOrEqual(0);
    expect(names.indexOf('native-cpu:true')).toBeLessThan(names.indexOf('tfjs:true'));
  });

  it('trains a supported model on native-cpu', async () => {
    const out = await runTraining({ definition: definition(false), dataDir: dir, reporter });
    expect(out.trainer?.name).toBe('native-cpu');
    expect(out.result.status).toBe('finished');
    expect(out.result.steps).toBe(16);
  });

  it('trains an unsupported model on tfjs and records why native-cpu was skipped', async () => {
    const out = await runTraining({ definition: definition(true), dataDir: dir, reporter });
    expect(out.trainer?.name).toBe('tfjs');
    expect(out.trainer?.skipped).toContainEqual({ name: 'native-cpu', reason: 'layer SimpleRNN not supported by native-cpu' });
    expect(out.result.status).toBe('finished');
  });
});
