export { NativeCpuTrainer, planFor, labelSizeOf } from './native-cpu-trainer.ts';
export { nativeCpuProvider, trainerProviders } from './provider.ts';
export { NativeUnavailableError, loadAddon, nativeUnavailableReason, threadCount, type NativeAddon, type NativePlan, type NativeSession } from './addon.ts';
export { compilePlan, optimizerSpec, Unsupported, type CompiledPlan } from './plan.ts';
export { pullOptimizer, pullWeights, pushOptimizer, pushWeights } from './state.ts';
