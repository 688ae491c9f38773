import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { CompileSpec, Trainer, TrainingData } from '@cairn/engine';
import { loadAddon, nativeUnavailableReason, threadCount } from './addon.ts';
import { NativeCpuTrainer, planFor } from './native-cpu-trainer.ts';
import { Unsupported } from './plan.ts';

/** Whether a trainer can run here / can run this model, with the reason when not. */
export type TrainerProbe = { ok: true; detail?: string } | { ok: false; reason: string };

/** The engine's trainer registry entry (structurally its TrainerProvider). */
export interface NativeTrainerProvider {
  readonly name: string;
  available(): TrainerProbe;
  supports(c: { model: LayersModel; compile: CompileSpec; data: TrainingData; batchSize: number }): TrainerProbe;
  create(): Trainer;
}

export const nativeCpuProvider: NativeTrainerProvider = {
  name: 'native-cpu',
  available() {
    const reason = nativeUnavailableReason();
    if (reason) return { ok: false, reason };
    try {
      const addon = loadAddon();
      return { ok: true, detail: `${addon.isa} kernels, ${threadCount()} thread(s)` };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
  },
  supports({ model, compile, data, batchSize }) {
    try {
      planFor(model, compile, data.train, batchSize);
      for (const [name, s] of [['validation', data.validation], ['test', data.test]] as const) {
        if (s && !('xs' in s && 'ys' in s)) return { ok: false, reason: `the ${name} split is a tf.data pipeline; native-cpu needs tensors` };
      }
      return { ok: true };
    } catch (e) {
      if (e instanceof Unsupported) return { ok: false, reason: e.message };
      return { ok: false, reason: `native-cpu could not plan this model: ${(e as Error).message}` };
    }
  },
  create() {
    return new NativeCpuTrainer();
  },
};
