export * from './types.ts';
export { defineTraining } from './define.ts';
// The one tfjs a definition needs, with chained ops: the engine's own copy, so tensors and models are shared.
export * as tf from './tfjs/tf.ts';
export { TFJS_INSTALL, TFJS_PEERS, TFJS_VERSION, TfjsCopiesError, TfjsMissingError, checkOneTfjs, importWithTfjs, missingTfjsPackage } from './tfjs/peers.ts';
export { createPolicy, createPolicies, checkPolicies, policySpecSchema, parsePolicySpecs, nonFinite } from './policies/index.ts';
export { FIT_SALT, LayersTrainer, defaultTrainer } from './layers-trainer.ts';
export { runTraining, resolveParams, quietTfjs, TIER_DEFAULTS, type RunTrainingOptions, type ConfiguredTraining, type RunOutcome } from './run-training.ts';
export { loadDefinition, type LoadedDefinition } from './load-definition.ts';
export { saveCheckpoint, loadCheckpoint, type FitState } from './checkpoint.ts';
export { exportModel, type ExportedFile, type ModelCard } from './export.ts';
export { Rng, createRng, epochOrder, normal, type Rand } from './random.ts';
export { KNOWN_TRAINERS, TFJS_TRAINER, TrainerUnavailableError, loadTrainerModules, parseTrainerName, probeTrainers, registerTrainer, selectTrainer, tfjsTrainer, trainerProviders, type SkippedTrainer, type TrainerCandidate, type TrainerModuleLoad, type TrainerChoice, type TrainerProbe, type TrainerProvider, type TrainerSettings } from './trainers.ts';
export { BACKENDS, BackendUnavailableError, missingKernels, parseBackendName, probeBackends, releaseBackend, requiredKernels, selectBackend, type BackendChoice, type BackendProbe, type SkippedBackend } from './backends.ts';
export * from './data/index.ts';
export * from './package/index.ts';
