import type { TrainerProvider } from '@cairn/engine';
import { loadAddon, nativeUnavailableReason, threadCount } from './addon.ts';
import { NativeCpuTrainer, planFor } from './native-cpu-trainer.ts';
import { Unsupported } from './plan.ts';

/** native-cpu in the engine's trainer registry: after native-cuda, before the tfjs ladder. */
export const nativeCpuProvider: TrainerProvider = {
  name: 'native-cpu',
  rank: 20,
  available() {
    const reason = nativeUnavailableReason();
    if (reason) return { ok: false, reason };
    try {
      const addon = loadAddon();
      return { ok: true, detail: `${addon.isa} kernels, ${threadCount()} thread(s) at most` };
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
  create(settings) {
    return new NativeCpuTrainer(settings?.threads !== undefined ? { threads: settings.threads } : {});
  },
};

/** What the engine's loadTrainerModules('@cairn/native') registers. */
export function trainerProviders(): TrainerProvider[] {
  return [nativeCpuProvider];
}
