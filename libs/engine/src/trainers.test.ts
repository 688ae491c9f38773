import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTraining } from './define.ts';
import { LayersTrainer } from './layers-trainer.ts';
import { runTraining } from './run-training.ts';
import { TrainerUnavailableError, parseTrainerName, probeTrainers, registerTrainer, selectTrainer, trainerProviders, type TrainerCandidate, type TrainerProvider } from './trainers.ts';
import type { MetricPoint, Reporter, Trainer, TrainerInput, TrainResult } from './types.ts';

/**
 * The registry's choices, with real trainers: the providers registered here wrap the
 * LayersTrainer under another name (the native trainers live in libs/native, which the
 * engine cannot import) and count the fits they ran, so a test sees which one trained.
 */

const undo: (() => void)[] = [];
afterEach(() => {
  while (undo.length) undo.pop()!();
});

class CountingTrainer implements Trainer {
  fits = 0;
  constructor(readonly name: string) {}
  train(input: TrainerInput): Promise<TrainResult> {
    this.fits++;
    return new LayersTrainer().train(input);
  }
}

function provider(name: string, rank: number, opts: { available?: string; refuse?: (c: TrainerCandidate) => string | null; throws?: boolean } = {}): TrainerProvider & { trainer: CountingTrainer } {
  const trainer = new CountingTrainer(name);
  const p = {
    name,
    rank,
    trainer,
    available: () => (opts.available ? { ok: false as const, reason: opts.available } : { ok: true as const, detail: `${name} detail` }),
    supports: (c: TrainerCandidate) => {
      if (opts.throws) throw new Error('addon exploded\nstack');
      const why = opts.refuse?.(c);
      return why ? { ok: false as const, reason: why } : { ok: true as const };
    },
    create: () => trainer,
  };
  undo.push(registerTrainer(p));
  return p;
}

const rows = 64;
const def = defineTraining({
  name: 'tiny',
  params: z.object({ epochs: z.number().default(1), batchSize: z.number().default(16) }),
  data: () => ({
    train: { xs: tf.randomUniform([rows, 4], 0, 1, 'float32', 1), ys: tf.oneHot(tf.tensor1d(Array.from({ length: rows }, (_, i) => i % 2), 'int32'), 2) },
    info: { inputShape: [4], numClasses: 2, counts: { train: rows } },
  }),
  model: () => tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 6, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] }),
  compile: () => ({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] }),
  objective: { metric: 'loss', direction: 'minimize' },
});

class Recorder implements Reporter {
  env: Record<string, unknown> = {};
  points: MetricPoint[] = [];
  metrics(p: MetricPoint[]): void {
    this.points.push(...p);
  }
  artifact(): void {}
  environment(f: Record<string, unknown>): void {
    Object.assign(this.env, f);
  }
}

function candidate(): TrainerCandidate {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] });
  return { model, compile: { optimizer: 'sgd', loss: 'meanSquaredError' }, data: { train: { xs: tf.zeros([2, 3]), ys: tf.zeros([2, 2]) }, info: { inputShape: [3], counts: { train: 2 } } }, batchSize: 2 };
}

describe('trainer registry', () => {
  it('has only tfjs until a trainer is registered, and lists registered ones best first', () => {
    expect(trainerProviders().map((p) => p.name)).toEqual(['tfjs']);
    provider('native-cpu', 20);
    provider('native-cuda', 10, { available: 'no NVIDIA GPU' });
    expect(trainerProviders().map((p) => p.name)).toEqual(['native-cuda', 'native-cpu', 'tfjs']);
    expect(probeTrainers()).toEqual([
      { name: 'native-cuda', usable: false, reason: 'no NVIDIA GPU' },
      { name: 'native-cpu', usable: true, reason: 'usable', detail: 'native-cpu detail' },
      { name: 'tfjs', usable: true, reason: 'usable', detail: 'tfjs layers API on the tfjs backend ladder' },
    ]);
  });

  it('skips what is unavailable or refuses the model, saying why, and falls through to tfjs', () => {
    provider('native-cuda', 10, { available: 'no NVIDIA GPU' });
    provider('native-cpu', 20, { refuse: (c) => `layer ${c.model.layers[0]!.getClassName()} not supported by native-cpu` });
    const { provider: p, choice } = selectTrainer(candidate());
    expect(p.name).toBe('tfjs');
    expect(choice).toMatchObject({ name: 'tfjs', forcedBy: null, reason: 'best trainer for this model here' });
    expect(choice.skipped).toEqual([
      { name: 'native-cuda', reason: 'no NVIDIA GPU' },
      { name: 'native-cpu', reason: 'layer Dense not supported by native-cpu' },
    ]);
  });

  it('turns a probe that throws into a reason', () => {
    provider('native-cpu', 20, { throws: true });
    const { choice } = selectTrainer(candidate());
    expect(choice.name).toBe('tfjs');
    expect(choice.skipped).toEqual([{ name: 'native-cpu', reason: 'its probe failed: addon exploded' }]);
  });

  it('a forced trainer is used or is an error naming why, never a silent fallback', () => {
    provider('native-cpu', 20, { refuse: () => 'loss huber not supported by native-cpu' });
    expect(selectTrainer(candidate(), { force: 'tfjs' }).choice).toMatchObject({ name: 'tfjs', forcedBy: 'option', reason: 'forced' });
    expect(() => selectTrainer(candidate(), { force: 'native-cpu' })).toThrow(TrainerUnavailableError);
    expect(() => selectTrainer(candidate(), { force: 'native-cpu' })).toThrow("trainer 'native-cpu' (forced) cannot train this model here: loss huber not supported by native-cpu");
    expect(() => selectTrainer(candidate(), { configured: 'native-cuda' })).toThrow("trainer 'native-cuda' (forced by CAIRN_TRAINER=native-cuda) cannot train this model here: no trainer 'native-cuda' is registered");
    expect(selectTrainer(candidate(), { configured: 'auto' }).choice.name).toBe('tfjs');
  });

  it('parses names as users type them', () => {
    expect(parseTrainerName(' Native-CPU ')).toBe('native-cpu');
    expect(parseTrainerName('auto')).toBeUndefined();
    expect(() => parseTrainerName('native')).toThrow("trainer 'native' is not a trainer: use one of native-cuda, native-cpu, tfjs, or auto");
    expect(parseTrainerName('tfjs', 'CAIRN_TRAINER')).toBe('tfjs');
    expect(() => parseTrainerName('gpu', 'CAIRN_TRAINER')).toThrow("CAIRN_TRAINER 'gpu' is not a trainer");
  });
});

describe('runTraining through the registry', () => {
  it('trains on the best registered trainer and records it and what was skipped in the environment', async () => {
    provider('native-cuda', 10, { available: 'no NVIDIA GPU' });
    const cpu = provider('native-cpu', 20);
    const reporter = new Recorder();
    const out = await runTraining({ definition: def, dataDir: '.', reporter });
    expect(out.result.status).toBe('finished');
    expect(cpu.trainer.fits).toBe(1);
    expect(out.trainer).toMatchObject({ name: 'native-cpu', skipped: [{ name: 'native-cuda', reason: 'no NVIDIA GPU' }] });
    expect(reporter.env).toMatchObject({ trainer: 'native-cpu', trainerReason: 'best trainer for this model here', trainersSkipped: [{ name: 'native-cuda', reason: 'no NVIDIA GPU' }], tfjsBackend: 'cpu' });
    // tfjs only holds the weights while a non-tfjs trainer runs the fit.
    expect(out.backend?.reason).toBe('holds the weights native-cpu trains');
  });

  it('a forced tfjs backend means the tfjs trainer; a forced trainer wins over it', async () => {
    const cpu = provider('native-cpu', 20);
    const a = await runTraining({ definition: def, dataDir: '.', reporter: new Recorder(), backend: 'cpu' });
    expect(a.trainer?.name).toBe('tfjs');
    expect(cpu.trainer.fits).toBe(0);
    const b = await runTraining({ definition: def, dataDir: '.', reporter: new Recorder(), backend: 'cpu', trainerName: 'native-cpu' });
    expect(b.trainer).toMatchObject({ name: 'native-cpu', forcedBy: 'option' });
    expect(cpu.trainer.fits).toBe(1);
  });

  it('a forced trainer that cannot train the model fails the run with the reason', async () => {
    provider('native-cpu', 20, { refuse: () => 'layer LSTM not supported by native-cpu' });
    const out = await runTraining({ definition: def, dataDir: '.', reporter: new Recorder(), trainerName: 'native-cpu' });
    expect(out.result.status).toBe('failed');
    expect(out.result.reason).toContain('layer LSTM not supported by native-cpu');
  });
});
