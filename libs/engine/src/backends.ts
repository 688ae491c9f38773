import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ValidationError } from '@cairn/schema';
import { NATIVE_PACKAGES, engineCore, packageEntry, packageInfo } from './backends/packages.ts';
import { probeDawn, registerWebgpu, releaseWebgpu } from './backends/webgpu.ts';
import type { BackendName, Batch, CompileSpec } from './types.ts';
import { Rng } from './random.ts';

/**
 * The tfjs backend ladder, best first: native TensorFlow (tfjs-node-gpu / tfjs-node, optional,
 * not installed by default), WebGPU through Dawn, WebAssembly, plain JavaScript.
 *
 * Nothing here runs at import: backend packages are imported, and Dawn and the wasm module
 * initialised, only by probeBackends, selectBackend and missingKernels. Every tfjs package
 * is pinned to tfjs-core's version and resolves to the same tfjs-core, so kernels register
 * with the one engine the layers API uses.
 */

export const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendProbe {
  name: BackendName;
  usable: boolean;
  /** Why it is usable or not: one line. */
  reason: string;
  /** More about it: adapter, package version, Dawn's warnings, how to install. */
  detail?: string;
  /** With `requiredKernels`: the ones this backend lacks (then it is not usable). */
  missingKernels?: string[];
}

export interface SkippedBackend {
  name: BackendName;
  reason: string;
  detail?: string;
}

/** The backend a run uses and why each better one was skipped: plain data, for the run's environment. */
export interface BackendChoice {
  name: BackendName;
  /** 'best usable backend', or who forced it. */
  reason: string;
  detail?: string;
  /** Who forced the backend, or null when it was picked automatically. */
  forcedBy: 'option' | 'CAIRN_BACKEND' | null;
  skipped: SkippedBackend[];
  /** The tfjs-core version (every tfjs package is pinned to it). */
  tfjs: string;
}

/** A backend that was asked for (forced, or for its kernels) and cannot be used here. */
export class BackendUnavailableError extends ValidationError {
  constructor(
    readonly backend: BackendName,
    readonly why: string,
    readonly forcedBy: BackendChoice['forcedBy'],
  ) {
    const by = forcedBy === 'CAIRN_BACKEND' ? ` (forced by CAIRN_BACKEND=${backend})` : forcedBy === 'option' ? ' (forced)' : '';
    super(`backend '${backend}'${by} is not usable here: ${why}; see 'cairn backends'`);
  }
}

/** A backend name as a user typed it (--backend, CAIRN_BACKEND); 'auto' and '' mean none. */
export function parseBackendName(value: string, source = 'backend'): BackendName | undefined {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'auto') return undefined;
  if ((BACKENDS as readonly string[]).includes(v)) return v as BackendName;
  throw new ValidationError(`${source} '${value}' is not a backend: use one of ${BACKENDS.join(', ')}, or auto`);
}


// --- Serialising: probing and selecting switch tfjs's global backend --------------------------

let queue: Promise<unknown> = Promise.resolve();
function exclusive<T>(f: () => Promise<T>): Promise<T> {
  const run = queue.then(f, f);
  queue = run.catch(() => undefined);
  return run;
}

const firstLine = (e: unknown) => String(e instanceof Error ? e.message : e).split('\n')[0]!.trim();

type Outcome = { ok: true; detail?: string } | { ok: false; reason: string; detail?: string };

// --- Loading backend packages (registers their kernels; initialises nothing) ------------------

const loading = new Map<BackendName, Promise<Outcome>>();

function loadModule(name: BackendName): Promise<Outcome> {
  let p = loading.get(name);
  if (!p) {
    p = importModule(name);
    loading.set(name, p);
  }
  return p;
}

async function importModule(name: BackendName): Promise<Outcome> {
  const pkg = name === 'tensorflow' ? null : `@tensorflow/tfjs-backend-${name}`;
  try {
    if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
    else if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else if (name === 'webgpu') {
      // A non-literal specifier keeps its WebGPU DOM types out of the compilation.
      const specifier: string = '@tensorflow/tfjs-backend-webgpu';
      await import(specifier);
    } else return await importNative();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `cannot load ${pkg ?? name}: ${firstLine(e)}` };
  }
}

function installHint(): string {
  const v = tf.version_core;
  return `optional, since their install downloads libtensorflow: npm install @tensorflow/tfjs-node@${v}, or @tensorflow/tfjs-node-gpu@${v} for CUDA; see the README`;
}

/** tfjs-node-gpu, else tfjs-node: pinned to our tfjs-core, sharing it, loaded by a guarded import. */
async function importNative(): Promise<Outcome> {
  const installed = NATIVE_PACKAGES.map((n) => packageInfo(n)).filter((p) => p !== null);
  if (installed.length === 0) {
    return { ok: false, reason: `${NATIVE_PACKAGES.join(' and ')} are not installed`, detail: installHint() };
  }
  const problems: string[] = [];
  const core = engineCore();
  for (const pkg of installed) {
    if (pkg.version !== tf.version_core) {
      problems.push(`${pkg.name} is ${pkg.version} but @tensorflow/tfjs-core is ${tf.version_core}: pin it to ${tf.version_core}`);
      continue;
    }
    if (pkg.core !== null && pkg.core !== core) {
      problems.push(`${pkg.name} resolves a second @tensorflow/tfjs-core (${pkg.core}): reinstall it pinned to ${tf.version_core}`);
      continue;
    }
    try {
      await import(pathToFileURL(packageEntry(pkg.name)!).href);
    } catch (e) {
      problems.push(`${pkg.name} failed to load: ${firstLine(e)}`);
      continue;
    }
    if (!tf.findBackendFactory('tensorflow')) {
      problems.push(`${pkg.name} loaded, but registered no 'tensorflow' backend with the engine's tfjs-core (it loaded another copy)`);
      continue;
    }
    return { ok: true, detail: `${pkg.name} ${pkg.version}` };
  }
  return { ok: false, reason: problems.join('; ') };
}

// --- Initialising a backend --------------------------------------------------------------------

/** tf.setBackend, with tfjs's own warnings about a failed initialisation captured as the reason. */
async function setBackendQuietly(name: BackendName): Promise<Outcome> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
    if (ok) await tf.ready();
  } catch (e) {
    return { ok: false, reason: `initialisation failed: ${firstLine(e)}` };
  } finally {
    console.warn = warn;
  }
  if (!ok) return { ok: false, reason: `initialisation failed: ${firstLine(warnings[1] ?? warnings[0] ?? 'tf.setBackend returned false')}` };
  return { ok: true };
}

async function wasmDetail(): Promise<string> {
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return `WebAssembly, ${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : 'single-threaded'}`;
}

/** Loads, initialises and switches to `name`. On failure tfjs's active backend may be unset. */
async function activate(name: BackendName): Promise<Outcome> {
  const loaded = await loadModule(name);
  if (!loaded.ok) return loaded;
  let detail = loaded.detail;
  if (name === 'webgpu') {
    const probe = await probeDawn();
    if (!probe.ok) return probe;
    detail = probe.detail;
    try {
      await registerWebgpu();
    } catch (e) {
      releaseWebgpu();
      return { ok: false, reason: `Dawn found an adapter in a probe but failed in this process: ${firstLine(e)}`, detail };
    }
  }
  const set = await setBackendQuietly(name);
  if (!set.ok) {
    if (name === 'webgpu') releaseWebgpu();
    return { ...set, detail };
  }
  if (name === 'wasm') detail = await wasmDetail();
  return { ok: true, detail };
}

async function restore(previous: string | null): Promise<void> {
  if (previous && tf.getBackend() === previous) return;
  if (previous && tf.findBackendFactory(previous) && (await setBackendQuietly(previous as BackendName)).ok) return;
  await loadModule('cpu');
  await tf.setBackend('cpu');
}

function lacking(name: BackendName, names: readonly string[]): string[] {
  return names.filter((k) => tf.getKernel(k, name) == null);
}

const lacksReason = (missing: string[]) => `lacks kernel${missing.length > 1 ? 's' : ''} this model's training needs: ${missing.join(', ')}`;

// --- Public API --------------------------------------------------------------------------------

/**
 * Whether each backend works here, and why (not). Probing loads the backend packages and
 * initialises wasm (and tfjs-node when installed); WebGPU is probed in a child process, so a
 * broken driver or a missing dawn.node is a reason, never a crash. With `requiredKernels`, a
 * backend lacking any of them is reported as not usable. tfjs's active backend is left as it
 * was (cpu when none was set).
 */
export function probeBackends(options: { requiredKernels?: readonly string[]; webgpuTimeoutMs?: number } = {}): Promise<BackendProbe[]> {
  return exclusive(async () => {
    const previous = tf.getBackend();
    const probes: BackendProbe[] = [];
    try {
      for (const name of BACKENDS) {
        const p = await probeOne(name, options.webgpuTimeoutMs);
        if (p.usable && options.requiredKernels) {
          const missing = lacking(name, options.requiredKernels);
          if (missing.length > 0) {
            probes.push({ name, usable: false, reason: lacksReason(missing), detail: [p.reason, p.detail].filter(Boolean).join('; '), missingKernels: missing });
            continue;
          }
          probes.push({ ...p, missingKernels: [] });
          continue;
        }
        probes.push(p);
      }
    } finally {
      await restore(previous);
    }
    return probes;
  });
}

async function probeOne(name: BackendName, webgpuTimeoutMs?: number): Promise<BackendProbe> {
  const no = (o: { reason: string; detail?: string }): BackendProbe => ({ name, usable: false, reason: o.reason, ...(o.detail ? { detail: o.detail } : {}) });
  if (name === 'webgpu') {
    // The probe does not bring Dawn into this process (see backends/webgpu.ts).
    const loaded = await loadModule('webgpu');
    if (!loaded.ok) return no(loaded);
    const dawn = await probeDawn(webgpuTimeoutMs === undefined ? {} : { timeoutMs: webgpuTimeoutMs });
    if (!dawn.ok) return no(dawn);
    return { name, usable: true, reason: 'GPU adapter found (Dawn)', detail: dawn.detail };
  }
  const a = await activate(name);
  if (!a.ok) return no(a);
  if (name === 'wasm') {
    const sum = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0]);
    if (sum !== 3) return no({ reason: `computed 1 + 2 = ${sum}` });
    return { name, usable: true, reason: a.detail ?? 'WebAssembly' };
  }
  if (name === 'cpu') return { name, usable: true, reason: 'plain JavaScript: always works, slowest' };
  return { name, usable: true, reason: 'native TensorFlow (libtensorflow)', ...(a.detail ? { detail: a.detail } : {}) };
}

/**
 * Picks the best backend that works here (and has every kernel in `requiredKernels`), makes
 * it tfjs's backend (tf.setBackend + tf.ready) and says why each better one was skipped.
 * `force` (else `configured`, the CAIRN_BACKEND value the app read from its environment)
 * tries only that backend; one that cannot be used is a BackendUnavailableError
 * (INVALID_INPUT), never a silent fallback.
 */
export async function selectBackend(options: { force?: BackendName; configured?: string; requiredKernels?: readonly string[] } = {}): Promise<BackendChoice> {
  let force: BackendName | undefined;
  let forcedBy: BackendChoice['forcedBy'] = null;
  if (options.force !== undefined) {
    force = parseBackendName(options.force, 'backend');
    forcedBy = force ? 'option' : null;
  } else if (options.configured !== undefined) {
    force = parseBackendName(options.configured, 'CAIRN_BACKEND');
    forcedBy = force ? 'CAIRN_BACKEND' : null;
  }
  return exclusive(async () => {
    const previous = tf.getBackend();
    const skipped: SkippedBackend[] = [];
    try {
      for (const name of force ? [force] : BACKENDS) {
        let failure: { reason: string; detail?: string } | null = null;
        const loaded = await loadModule(name);
        if (!loaded.ok) failure = loaded;
        else if (options.requiredKernels) {
          const missing = lacking(name, options.requiredKernels);
          if (missing.length > 0) failure = { reason: lacksReason(missing) };
        }
        if (!failure) {
          const a = await activate(name);
          if (a.ok) {
            const reason = forcedBy === 'option' ? 'forced' : forcedBy === 'CAIRN_BACKEND' ? 'forced by CAIRN_BACKEND' : 'best usable backend';
            return { name, reason, ...(a.detail ? { detail: a.detail } : {}), forcedBy, skipped, tfjs: tf.version_core };
          }
          failure = a;
        }
        if (forcedBy) throw new BackendUnavailableError(name, failure.reason, forcedBy);
        skipped.push({ name, reason: failure.reason, ...(failure.detail ? { detail: failure.detail } : {}) });
      }
      throw new ValidationError(`no backend can run this model: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
    } catch (e) {
      await restore(previous);
      throw e;
    }
  });
}

/** Lets go of GPU resources (the webgpu backend's device and Dawn) so the process can exit. */
export function releaseBackend(): void {
  releaseWebgpu();
}

/**
 * The kernels `backend` lacks among `names` (after loading its package, which registers its
 * kernels; nothing is initialised). Throws BackendUnavailableError when its package cannot load.
 */
export async function missingKernels(backend: BackendName, names: readonly string[]): Promise<string[]> {
  const loaded = await loadModule(backend);
  if (!loaded.ok) throw new BackendUnavailableError(backend, loaded.reason, null);
  return lacking(backend, names);
}


/** A fresh optimizer of the same kind and settings, so the probe step leaves the caller's untouched. */
function freshOptimizer(o: CompileSpec['optimizer']): CompileSpec['optimizer'] {
  if (typeof o === 'string') return o;
  const ctor = o.constructor as unknown as { fromConfig(cls: unknown, config: tf.serialization.ConfigDict): tf.Optimizer };
  return ctor.fromConfig(ctor, o.getConfig());
}

/**
 * The kernels one training step of `model` runs: forward, backward (gradients), the
 * optimizer's update, and the loss and metrics on validation data. Found by running one fit
 * epoch of a copy of the model (rebuilt from its JSON topology, so the caller's weights and
 * optimizer are untouched) on at most two rows of `sample`, on the cpu backend, under
 * tf.profile, which records every kernel the engine dispatches, gradient kernels included.
 * Names tf.profile records that are not kernels (op scopes such as 'fusedMatMul__op') are
 * dropped. Math.random is swapped for a fixed generator while the copy initialises and
 * trains, so a seeded Math.random is not advanced. The active backend is restored.
 */
export function requiredKernels(model: LayersModel, sample: Batch, compile: CompileSpec): Promise<string[]> {
  return exclusive(async () => {
    const previous = tf.getBackend();
    const tfl = await import('@tensorflow/tfjs-layers');
    await loadModule('cpu');
    await tf.setBackend('cpu');
    const random = Math.random;
    const rng = new Rng(0x5eed);
    Math.random = () => rng.next();
    let copy: LayersModel | null = null;
    const optimizer = freshOptimizer(compile.optimizer);
    try {
      const topology = model.toJSON(null, false) as tf.serialization.ConfigDict;
      copy = await tfl.models.modelFromJSON(topology);
      copy.compile({ optimizer, loss: compile.loss, metrics: compile.metrics });
      const rows = Math.max(1, Math.min(2, sample.xs.shape[0] ?? 1));
      const xs = tf.tidy(() => tf.slice(sample.xs, 0, rows));
      const ys = tf.tidy(() => tf.slice(sample.ys, 0, rows));
      const trained = copy;
      try {
        const info = await tf.profile(async () => {
          await trained.fit(xs, ys, { epochs: 1, batchSize: rows, validationData: [xs, ys], verbose: 0 });
        });
        return [...new Set(info.kernelNames)].filter((k) => tf.getKernel(k, 'cpu') != null).sort();
      } finally {
        xs.dispose();
        ys.dispose();
      }
    } finally {
      Math.random = random;
      // The copy disposes an optimizer it created from a name; the fresh instance is ours.
      copy?.dispose();
      if (typeof optimizer !== 'string') optimizer.dispose();
      await restore(previous);
    }
  });
}
