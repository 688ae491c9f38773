import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ValidationError } from '@cairn/schema';
import { LayersTrainer } from './layers-trainer.ts';
import type { CompileSpec, Trainer, TrainingData } from './types.ts';

/**
 * The trainer registry: who runs a fit, best first. Native trainers (libs/native) are
 * registered by the apps that compose them (`cairn`, the worker, the training thread);
 * the engine itself only knows `tfjs`, the LayersTrainer on the tfjs backend ladder,
 * which can train every model and is always last.
 */

/** Whether a trainer can be used: on this machine at all, or for one model. */
export type TrainerProbe = { ok: true; detail?: string } | { ok: false; reason: string; detail?: string };

/** What a trainer is asked to train, for its probe. */
export interface TrainerCandidate {
  model: LayersModel;
  compile: CompileSpec;
  data: TrainingData;
  batchSize: number;
}

export interface TrainerProvider {
  /** 'native-cuda', 'native-cpu', 'tfjs'. */
  readonly name: string;
  /** Lower comes first: native-cuda 10, native-cpu 20, tfjs 100. */
  readonly rank: number;
  /** Usable on this machine at all (the addon built, a device present); cheap after the first call. */
  available(): TrainerProbe;
  /** Can it train this model with this compile spec and data? The reason names what it cannot do. */
  supports(candidate: TrainerCandidate): TrainerProbe;
  create(settings?: TrainerSettings): Trainer;
}

/** What the app passes each trainer it creates (from its options or CAIRN_THREADS). */
export interface TrainerSettings {
  /** Native trainers: the most threads one fit may use (default: every core). */
  threads?: number;
}

export const TFJS_TRAINER = 'tfjs';

/** The tfjs layers API on the best usable tfjs backend: trains everything tfjs can. */
export const tfjsTrainer: TrainerProvider = {
  name: TFJS_TRAINER,
  rank: 100,
  available: () => ({ ok: true, detail: 'tfjs layers API on the tfjs backend ladder' }),
  supports: () => ({ ok: true }),
  create: () => new LayersTrainer(), // tfjs sizes its own thread pools
};

const registry = new Map<string, TrainerProvider>([[tfjsTrainer.name, tfjsTrainer]]);

/** Adds (or replaces, by name) a trainer; the function returned takes it out again (restoring any it replaced). */
export function registerTrainer(provider: TrainerProvider): () => void {
  const before = registry.get(provider.name);
  registry.set(provider.name, provider);
  return () => {
    if (registry.get(provider.name) !== provider) return;
    if (before) registry.set(provider.name, before);
    else registry.delete(provider.name);
  };
}

/** Every registered trainer, best first. */
export function trainerProviders(): TrainerProvider[] {
  return [...registry.values()].sort((a, b) => a.rank - b.rank);
}

/** The names a user may type: the registered trainers, and the ones Cairn ships (registered or not). */
export const KNOWN_TRAINERS = ['native-cuda', 'native-cpu', TFJS_TRAINER] as const;

/** A trainer name as a user typed it (--trainer, CAIRN_TRAINER); 'auto' and '' mean none. */
export function parseTrainerName(value: string, source = 'trainer'): string | undefined {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'auto') return undefined;
  const known = new Set<string>([...KNOWN_TRAINERS, ...registry.keys()]);
  if (known.has(v)) return v;
  throw new ValidationError(`${source} '${value}' is not a trainer: use one of ${[...known].join(', ')}, or auto`);
}


export interface SkippedTrainer {
  name: string;
  reason: string;
}

/** The trainer a run uses and why each better one was skipped: plain data, for the run's environment. */
export interface TrainerChoice {
  name: string;
  reason: string;
  detail?: string;
  forcedBy: 'option' | 'CAIRN_TRAINER' | null;
  skipped: SkippedTrainer[];
}

/** A trainer that was forced and cannot train this model here. */
export class TrainerUnavailableError extends ValidationError {
  constructor(
    readonly trainer: string,
    readonly why: string,
    readonly forcedBy: TrainerChoice['forcedBy'],
  ) {
    const by = forcedBy === 'CAIRN_TRAINER' ? ` (forced by CAIRN_TRAINER=${trainer})` : forcedBy === 'option' ? ' (forced)' : '';
    super(`trainer '${trainer}'${by} cannot train this model here: ${why}; see 'cairn backends'`);
  }
}

function probeOf(f: () => TrainerProbe): TrainerProbe {
  // A probe that throws is a reason, never a crash of the run.
  try {
    return f();
  } catch (e) {
    return { ok: false, reason: `its probe failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}

/** Each registered trainer, best first, and whether it can be used here at all (no model). */
export function probeTrainers(): { name: string; usable: boolean; reason: string; detail?: string }[] {
  return trainerProviders().map((p) => {
    const a = probeOf(() => p.available());
    return a.ok ? { name: p.name, usable: true, reason: 'usable', ...(a.detail ? { detail: a.detail } : {}) } : { name: p.name, usable: false, reason: a.reason, ...(a.detail ? { detail: a.detail } : {}) };
  });
}

/**
 * Picks the first registered trainer that is available here and supports the model, or
 * the forced one (an error when it cannot). `force` comes from the caller's option;
 * without it `configured` decides: the CAIRN_TRAINER value the app read from its
 * environment (libs read none). The tfjs trainer supports everything, so without a force
 * there is always a choice.
 */
export function selectTrainer(candidate: TrainerCandidate, options: { force?: string; configured?: string } = {}): { provider: TrainerProvider; choice: TrainerChoice } {
  let force = options.force ? parseTrainerName(options.force) : undefined;
  let forcedBy: TrainerChoice['forcedBy'] = force ? 'option' : null;
  if (!force && options.configured !== undefined) {
    force = parseTrainerName(options.configured, 'CAIRN_TRAINER');
    forcedBy = force ? 'CAIRN_TRAINER' : null;
  }
  const skipped: SkippedTrainer[] = [];
  for (const provider of trainerProviders()) {
    if (force && provider.name !== force) continue;
    const usable = probeOf(() => provider.available());
    const fits = usable.ok ? probeOf(() => provider.supports(candidate)) : usable;
    if (fits.ok) {
      const reason = forcedBy === 'option' ? 'forced' : forcedBy === 'CAIRN_TRAINER' ? 'forced by CAIRN_TRAINER' : 'best trainer for this model here';
      const detail = fits.detail ?? (usable.ok ? usable.detail : undefined);
      return { provider, choice: { name: provider.name, reason, ...(detail ? { detail } : {}), forcedBy, skipped } };
    }
    if (force) throw new TrainerUnavailableError(force, fits.reason, forcedBy);
    skipped.push({ name: provider.name, reason: fits.reason });
  }
  // Only a forced name that nothing registered answers to gets here.
  throw new TrainerUnavailableError(force ?? TFJS_TRAINER, `no trainer '${force}' is registered in this process (is @cairn/native installed and built?)`, forcedBy);
}

/** How a trainer module (e.g. '@cairn/native') loaded: its trainers, or why not. */
export interface TrainerModuleLoad {
  module: string;
  ok: boolean;
  trainers: string[];
  reason?: string;
}

const loadedModules = new Map<string, Promise<TrainerModuleLoad>>();

/**
 * Imports trainer modules by name and registers what each exports from `trainerProviders()`.
 * Apps name the modules they compose (the engine does not depend on them); the training
 * thread gets the same names in its job. A module that is not installed or fails to load
 * is a reason, not an error: runs fall through to the next trainer.
 */
export function loadTrainerModules(modules: readonly string[]): Promise<TrainerModuleLoad[]> {
  return Promise.all(
    modules.map((module) => {
      let p = loadedModules.get(module);
      if (!p) {
        p = importTrainerModule(module);
        loadedModules.set(module, p);
      }
      return p;
    }),
  );
}

async function importTrainerModule(module: string): Promise<TrainerModuleLoad> {
  try {
    const mod = (await import(module)) as { trainerProviders?: () => TrainerProvider[] };
    if (typeof mod.trainerProviders !== 'function') return { module, ok: false, trainers: [], reason: `${module} exports no trainerProviders()` };
    const providers = mod.trainerProviders();
    for (const p of providers) registerTrainer(p);
    return { module, ok: true, trainers: providers.map((p) => p.name) };
  } catch (e) {
    return { module, ok: false, trainers: [], reason: `cannot load ${module}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}
