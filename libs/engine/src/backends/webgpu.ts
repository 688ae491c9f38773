import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { packageEntry } from './packages.ts';

/**
 * WebGPU in Node through Dawn (the `webgpu` package). Probing runs in a child process:
 * a driver that crashes or hangs takes the child down, not the caller; Dawn's own warnings
 * (written by native code straight to stderr, e.g. "Couldn't load Vulkan") are captured as
 * the reason's detail instead of reaching the user's terminal; and no GPU object is left
 * referenced, which would keep the process from exiting. Only when the probe finds an
 * adapter does `registerWebgpu` bring Dawn into this process.
 */

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software adapter (SwiftShader and the like): slower than wasm, so not used. */
  fallback: boolean;
}

export type DawnProbe = { ok: true; adapter: AdapterInfo; detail: string } | { ok: false; reason: string; detail?: string };

// Plain JS for `node --input-type=module`; argv[1] is the file URL of the webgpu package.
const CHILD = `
const message = (e) => String((e && e.message) || e).split('\\n')[0];
const done = (o) => process.stdout.write(JSON.stringify(o) + '\\n', () => process.exit(0));
let dawn = null;
try { dawn = await import(process.argv[1]); } catch (e) { done({ stage: 'load', error: message(e) }); }
if (dawn) {
  try {
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) done({ adapter: null });
    else {
      const i = adapter.info || {};
      const info = {
        vendor: String(i.vendor || ''), architecture: String(i.architecture || ''),
        device: String(i.device || ''), description: String(i.description || ''),
        fallback: Boolean(i.isFallbackAdapter || adapter.isFallbackAdapter),
      };
      let deviceError = null;
      try { (await adapter.requestDevice()).destroy(); } catch (e) { deviceError = message(e); }
      done({ adapter: info, deviceError });
    }
  } catch (e) { done({ stage: 'adapter', error: message(e) }); }
}
`;

interface ChildAnswer {
  stage?: 'load' | 'adapter';
  error?: string;
  adapter?: AdapterInfo | null;
  deviceError?: string | null;
}

/** Dawn's stderr as one line: its warnings without their native stack lines. */
function dawnNotes(stderr: string): string {
  const text = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at '))
    .map((l) => l.replace(/^Warning:\s*/, ''))
    .join('; ');
  return text.length > 400 ? `${text.slice(0, 399)}…` : text;
}

export function describeAdapter(a: AdapterInfo): string {
  const name = [a.vendor, a.architecture && `(${a.architecture})`, a.device || a.description].filter(Boolean).join(' ');
  return name === '' ? 'an unnamed adapter' : name;
}

/**
 * Looks for a WebGPU adapter through Dawn, in a child process. `entry` is the webgpu
 * package's entry file (default: the installed one); tests point it at broken copies.
 */
export async function probeDawn(options: { timeoutMs?: number; entry?: string } = {}): Promise<DawnProbe> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const entry = options.entry ?? packageEntry('webgpu');
  if (!entry) return { ok: false, reason: 'the webgpu package (Dawn) is not installed' };
  const { error, stdout, stderr } = await new Promise<{ error: (Error & { code?: unknown; signal?: unknown; killed?: boolean }) | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '--eval', CHILD, pathToFileURL(entry).href],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, env: { ...process.env, NODE_OPTIONS: '' } },
      (err, out, errOut) => resolve({ error: err, stdout: String(out), stderr: String(errOut) }),
    );
  });
  const notes = dawnNotes(stderr);
  const withNotes = (detail?: string) => [detail, notes && `Dawn: ${notes}`].filter(Boolean).join('; ') || undefined;
  if (error && (error.killed || error.signal)) {
    const why = error.killed ? `timed out after ${timeoutMs} ms` : `crashed (${String(error.signal)})`;
    return { ok: false, reason: `the Dawn probe ${why}`, detail: withNotes() };
  }
  let answer: ChildAnswer;
  try {
    answer = JSON.parse(stdout.trim().split('\n').pop() ?? '') as ChildAnswer;
  } catch {
    return { ok: false, reason: `the Dawn probe gave no answer (exit ${String(error?.code ?? 0)})`, detail: withNotes() };
  }
  if (answer.stage === 'load') return { ok: false, reason: `cannot load Dawn (the webgpu package): ${answer.error}`, detail: withNotes() };
  if (answer.stage === 'adapter') return { ok: false, reason: `Dawn failed while looking for an adapter: ${answer.error}`, detail: withNotes() };
  if (!answer.adapter) return { ok: false, reason: 'no GPU adapter: requestAdapter() returned null', detail: withNotes() };
  const name = describeAdapter(answer.adapter);
  if (answer.adapter.fallback) {
    return { ok: false, reason: `only a software adapter (${name}): slower than wasm`, detail: withNotes() };
  }
  if (answer.deviceError) return { ok: false, reason: `adapter ${name} found, but requestDevice() failed: ${answer.deviceError}`, detail: withNotes() };
  return { ok: true, adapter: answer.adapter, detail: withNotes(`adapter: ${name}`)! };
}

// --- In-process WebGPU (only after a successful probe) ---------------------------------------

interface GpuAdapter {
  readonly info?: unknown;
  readonly limits: Record<string, number>;
  readonly features: { has(name: string): boolean };
  requestDevice(descriptor?: Record<string, unknown>): Promise<GpuDevice>;
}
interface GpuDevice {
  destroy(): void;
}
interface Gpu {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapter | null>;
}

/** The Dawn instance while the webgpu backend is registered: it must stay referenced while in use. */
let held: Gpu | null = null;

// Limits tfjs's own WebGPU factory raises to the adapter's maximum.
const LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
];

/**
 * Loads Dawn here and registers tfjs's 'webgpu' backend on its adapter. tfjs-backend-webgpu
 * registers its factory only when `navigator.gpu` exists at import time (never in Node 20),
 * so the factory is registered here instead, on the WebGPUBackend class it exports. Its
 * constructor still checks `navigator.gpu` (isWebGPUSupported), so Dawn's GPU object is put
 * there too (Node 20 has no `navigator`: one is made). Throws with Dawn's message when anything fails.
 */
export async function registerWebgpu(): Promise<string> {
  if (tf.findBackendFactory('webgpu')) return 'already registered';
  const entry = packageEntry('webgpu');
  if (!entry) throw new Error('the webgpu package (Dawn) is not installed');
  const dawnSpecifier = pathToFileURL(entry).href;
  const dawn = (await import(dawnSpecifier)) as { create(flags: string[]): Gpu; globals: Record<string, unknown> };
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no GPU adapter: requestAdapter() returned null');
  const backendSpecifier: string = '@tensorflow/tfjs-backend-webgpu';
  const { WebGPUBackend } = (await import(backendSpecifier)) as { WebGPUBackend: new (device: GpuDevice, info?: unknown) => tf.KernelBackend };
  held = gpu;
  const nav = (g.navigator ??= {}) as Record<string, unknown>;
  if (!nav.gpu) nav.gpu = gpu;
  tf.registerBackend(
    'webgpu',
    async () => {
      const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
      const requiredLimits = Object.fromEntries(LIMITS.filter((k) => k in adapter.limits).map((k) => [k, adapter.limits[k]]));
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
      return new WebGPUBackend(device, adapter.info);
    },
    3,
  );
  return 'registered';
}

/** Disposes the webgpu backend (destroying its device) and lets go of Dawn, so the process can exit. */
export function releaseWebgpu(): void {
  if (held && tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  held = null;
}
