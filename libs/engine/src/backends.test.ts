import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfd from '@tensorflow/tfjs-data';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '@cairn/schema';
import {
  BACKENDS,
  BackendUnavailableError,
  missingKernels,
  parseBackendName,
  probeBackends,
  requiredKernels,
  selectBackend,
} from './backends.ts';
import { TFJS_PACKAGES, engineCore, packageEntry, packageInfo, tfjsPackages } from './backends/packages.ts';
import { probeDawn } from './backends/webgpu.ts';
import type { CompileSpec } from './types.ts';

const run = promisify(execFile);
const ENGINE = fileURLToPath(new URL('..', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-backends-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// What this machine has, found independently of the code under test.
const nativeInstalled = packageInfo('@tensorflow/tfjs-node') !== null || packageInfo('@tensorflow/tfjs-node-gpu') !== null;
const noGpuDevice = process.platform === 'linux' && !fs.existsSync('/dev/dri') && !fs.existsSync('/dev/nvidia0') && !fs.existsSync('/dev/dxg');

const compile: CompileSpec = { optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] };

function cnn(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

function mlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [tfl.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tfl.layers.dense({ units: 3, activation: 'softmax' })],
  });
}

function batch(inputShape: number[], rows = 4): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => ({
    xs: tf.randomNormal([rows, ...inputShape], 0, 1, 'float32', 7),
    ys: tf.oneHot(tf.tensor1d([0, 2, 1, 1].slice(0, rows), 'int32'), 3),
  }));
}


describe('one tfjs-core', () => {
  it('pins every tfjs dependency to tfjs-core’s exact version', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ENGINE, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies: Record<string, string>; devDependencies: Record<string, string> };
    // tfjs itself is a peer (the user's project installs the one copy); the backends the engine loads on demand are its own dependencies.
    const tfjsDeps = Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies }).filter(([name]) => name.startsWith('@tensorflow/'));
    // The workspace installs each peer, at the same pin, for the engine's own tests.
    for (const [name, range] of Object.entries(manifest.peerDependencies)) expect(`${name}@${manifest.devDependencies[name]}`).toBe(`${name}@${range}`);
    expect(tfjsDeps.map(([n]) => n).sort()).toEqual([...TFJS_PACKAGES].sort());
    for (const [name, range] of tfjsDeps) expect(`${name}@${range}`).toBe(`${name}@${tf.version_core}`);
  });

  it('has all installed tfjs packages at one version, each resolving the same tfjs-core', () => {
    const packages = tfjsPackages();
    expect(packages.map((p) => p.name)).toEqual([...TFJS_PACKAGES]);
    for (const p of packages) {
      expect(`${p.name}@${p.version}`).toBe(`${p.name}@${tf.version_core}`);
      expect({ name: p.name, core: p.core }).toEqual({ name: p.name, core: engineCore() });
    }
  });

  it('loads one tfjs-core, and the loaded packages report its version', async () => {
    const cpu = await import('@tensorflow/tfjs-backend-cpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    await missingKernels('webgpu', []); // loads tfjs-backend-webgpu (no version export: checked by manifest above)
    expect({ layers: tfl.version_layers, data: tfd.version_data, cpu: cpu.version_cpu, wasm: wasm.version_wasm }).toEqual({
      layers: tf.version_core,
      data: tf.version_core,
      cpu: tf.version_core,
      wasm: tf.version_core,
    });
    // Every tfjs-core file in the module cache comes from the one package folder.
    const cache = createRequire(import.meta.url).cache;
    const roots = new Set(
      Object.keys(cache)
        .map((f) => /^(.*[\\/]@tensorflow[\\/]tfjs-core)[\\/]/.exec(f)?.[1])
        .filter((r): r is string => r !== undefined),
    );
    expect([...roots].map((r) => fs.realpathSync(r))).toEqual([path.dirname(path.dirname(engineCore()))]);
    // And the backends registered their kernels with the engine this module imports.
    for (const b of ['cpu', 'wasm', 'webgpu'] as const) expect(tf.getKernel('Conv2D', b), b).toBeDefined();
  });

  it('initialises neither wasm nor webgpu when @cairn/engine is imported', async () => {
    const script = `
      await import(${JSON.stringify(pathToFileURL(path.join(ENGINE, 'src/index.ts')).href)});
      const tf = await import('@tensorflow/tfjs-core');
      console.log(JSON.stringify({
        wasmFactory: tf.findBackendFactory('wasm') !== null, webgpuFactory: tf.findBackendFactory('webgpu') !== null,
        wasmKernels: tf.getKernelsForBackend('wasm').length, webgpuKernels: tf.getKernelsForBackend('webgpu').length,
        dawnGlobals: typeof globalThis.GPUBufferUsage,
      }));`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { cwd: ENGINE });
    expect(JSON.parse(stdout)).toEqual({ wasmFactory: false, webgpuFactory: false, wasmKernels: 0, webgpuKernels: 0, dawnGlobals: 'undefined' });
  });
});

describe('names', () => {
  it('parses --backend / CAIRN_BACKEND values', () => {
    expect(parseBackendName(' WASM ')).toBe('wasm');
    expect(parseBackendName('auto')).toBeUndefined();
    expect(parseBackendName('')).toBeUndefined();
    expect(() => parseBackendName('gpu')).toThrow(ValidationError);
    expect(() => parseBackendName('gpu')).toThrow("backend 'gpu' is not a backend: use one of tensorflow, webgpu, wasm, cpu, or auto");
    expect(parseBackendName('cpu', 'CAIRN_BACKEND')).toBe('cpu');
    expect(() => parseBackendName('cuda', 'CAIRN_BACKEND')).toThrow(/CAIRN_BACKEND 'cuda' is not a backend/);
  });
});

describe('probeBackends', () => {
  it('reports each backend, best first, with a reason, and leaves the active backend alone', async () => {
    await missingKernels('wasm', []);
    await tf.setBackend('wasm');
    const probes = await probeBackends();
    expect(tf.getBackend()).toBe('wasm');
    expect(probes.map((p) => p.name)).toEqual([...BACKENDS]);
    for (const p of probes) expect(p.reason.length, p.name).toBeGreaterThan(10);
    const by = Object.fromEntries(probes.map((p) => [p.name, p]));

    expect(by.cpu).toMatchObject({ usable: true, reason: 'plain JavaScript: always works, slowest' });
    // Node has SIMD but no wasm threads.
    expect(by.wasm).toMatchObject({ usable: true, reason: 'WebAssembly, SIMD, single-threaded' });
    if (nativeInstalled) expect(typeof by.tensorflow!.usable).toBe('boolean');
    else {
      expect(by.tensorflow).toMatchObject({ usable: false, reason: '@tensorflow/tfjs-node-gpu and @tensorflow/tfjs-node are not installed' });
      expect(by.tensorflow!.detail).toContain(`npm install @tensorflow/tfjs-node@${tf.version_core}`);
    }
    if (noGpuDevice) {
      expect(by.webgpu).toMatchObject({ usable: false, reason: 'no GPU adapter: requestAdapter() returned null' });
    } else if (by.webgpu!.usable) {
      expect(by.webgpu!.detail).toMatch(/^adapter: /);
    }
  });

  it('with required kernels, reports the backends that lack some as not usable', async () => {
    await tf.setBackend('cpu');
    const probes = await probeBackends({ requiredKernels: ['Conv2D', 'Conv2DBackpropFilter'] });
    const wasm = probes.find((p) => p.name === 'wasm')!;
    expect(wasm).toMatchObject({ usable: false, missingKernels: ['Conv2DBackpropFilter'], reason: "lacks kernel this model's training needs: Conv2DBackpropFilter" });
    expect(wasm.detail).toContain('SIMD');
    expect(probes.find((p) => p.name === 'cpu')).toMatchObject({ usable: true, missingKernels: [] });
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('the WebGPU probe survives a broken Dawn', () => {
  /** A copy of the webgpu package's entry in a folder of its own, next to the given dawn.node bytes. */
  function fakeWebgpu(name: string, dawnNode: Buffer | null, entrySource?: string): string {
    const dir = path.join(tmp, name);
    const dist = path.join(dir, 'dist', `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`);
    fs.mkdirSync(dist, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'webgpu', type: 'module', main: 'index.js' }));
    fs.writeFileSync(path.join(dir, 'index.js'), entrySource ?? fs.readFileSync(packageEntry('webgpu')!, 'utf8'));
    if (dawnNode) fs.writeFileSync(path.join(dist, 'dawn.node'), dawnNode);
    return path.join(dir, 'index.js');
  }

  it('reports a corrupt dawn.node with its loader error', async () => {
    const entry = fakeWebgpu('corrupt', Buffer.from('not an ELF file, not a Mach-O, not a PE'));
    const r = await probeDawn({ entry });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^cannot load Dawn \(the webgpu package\): .*(invalid ELF header|not a mach-o|not a valid Win32|file too short)/i);
  });

  it('reports a missing dawn.node', async () => {
    const entry = fakeWebgpu('missing', null);
    const r = await probeDawn({ entry });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^cannot load Dawn \(the webgpu package\): Cannot find module .*dawn\.node/);
  });

  it('reports a crash and a hang of the native code instead of suffering them', async () => {
    const crash = fakeWebgpu('crash', null, "process.kill(process.pid, 'SIGSEGV');\nawait new Promise(() => setInterval(() => {}, 1000));\n");
    const crashed = await probeDawn({ entry: crash });
    expect(crashed).toMatchObject({ ok: false, reason: 'the Dawn probe crashed (SIGSEGV)' });
    const hang = fakeWebgpu('hang', null, 'export const create = () => ({ requestAdapter: () => new Promise(() => setInterval(() => {}, 1000)) });\nexport const globals = {};\n');
    const hung = await probeDawn({ entry: hang, timeoutMs: 1500 });
    expect(hung).toMatchObject({ ok: false, reason: 'the Dawn probe timed out after 1500 ms' });
  });

  it.runIf(noGpuDevice)('finds no adapter through the real Dawn here, and says what Dawn said', async () => {
    const r = await probeDawn();
    expect(r).toMatchObject({ ok: false, reason: 'no GPU adapter: requestAdapter() returned null' });
    if (!r.ok && process.platform === 'linux') expect(r.detail).toMatch(/^Dawn: /);
  });
});

describe('requiredKernels', () => {
  it('finds a CNN’s gradient kernels, which wasm lacks (Conv2DBackpropFilter), without touching the model', async () => {
    await tf.setBackend('cpu');
    const model = cnn();
    const sample = batch([8, 8, 1]);
    const weightsBefore = model.getWeights().map((w) => Array.from(w.dataSync()));
    const adam = tf.train.adam(0.01);
    const tensorsBefore = tf.memory().numTensors;
    let draws = 0;
    const random = Math.random;
    Math.random = () => (draws++, 0.5);
    let kernels: string[];
    try {
      kernels = await requiredKernels(model, sample, { ...compile, optimizer: adam });
    } finally {
      Math.random = random;
    }
    // Forward, backward (gradients of conv, pooling, relu, softmax cross-entropy) and Adam's update.
    for (const k of ['Conv2D', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad', 'Relu', 'Step', 'Softmax', '_FusedMatMul', 'BatchMatMul', 'Sqrt', 'RealDiv']) {
      expect(kernels, k).toContain(k);
    }
    // Op scopes that tf.profile also records are not kernels.
    expect(kernels.filter((k) => k.endsWith('__op'))).toEqual([]);
    expect(kernels).toEqual([...kernels].sort());
    // The input needs no gradient, so the first conv's input gradient is not computed.
    expect(kernels).not.toContain('Conv2DBackpropInput');

    expect(await missingKernels('wasm', kernels)).toEqual(['Conv2DBackpropFilter']);
    expect(await missingKernels('cpu', kernels)).toEqual([]);
    expect(await missingKernels('webgpu', kernels)).toEqual([]);

    // The caller's model, tensors, seeded Math.random and backend are as they were.
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(weightsBefore);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(draws).toBe(0);
    expect(tf.getBackend()).toBe('cpu');
    model.dispose();
    adam.dispose();
    tf.dispose([sample.xs, sample.ys]);
  });

  it('finds nothing an MLP needs missing on wasm', async () => {
    const model = mlp();
    const sample = batch([4]);
    const kernels = await requiredKernels(model, sample, compile);
    expect(kernels).toEqual(expect.arrayContaining(['_FusedMatMul', 'Relu', 'Step', 'Softmax']));
    expect(kernels).not.toContain('Conv2D');
    expect(await missingKernels('wasm', kernels)).toEqual([]);
    model.dispose();
    tf.dispose([sample.xs, sample.ys]);
  });

  it('is right about wasm: the CNN cannot train there, the MLP can', async () => {
    await missingKernels('wasm', []);
    await tf.setBackend('wasm');
    try {
      const conv = cnn();
      conv.compile(compile);
      const s1 = batch([8, 8, 1]);
      await expect(conv.fit(s1.xs, s1.ys, { epochs: 1, batchSize: 4, verbose: 0 })).rejects.toThrow("Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'");
      const dense = mlp();
      dense.compile(compile);
      const s2 = batch([4]);
      const h = await dense.fit(s2.xs, s2.ys, { epochs: 2, batchSize: 4, verbose: 0 });
      expect(Number.isFinite(h.history.loss![1] as number)).toBe(true);
      conv.dispose();
      dense.dispose();
      tf.dispose([s1.xs, s1.ys, s2.xs, s2.ys]);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('refuses a backend whose package cannot load', async () => {
    if (nativeInstalled) return;
    await expect(missingKernels('tensorflow', ['Add'])).rejects.toThrow(BackendUnavailableError);
  });
});

describe('selectBackend', () => {
  const cnnKernels = ['Conv2D', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad'];

  it.runIf(noGpuDevice && !nativeInstalled)('skips tensorflow and webgpu here, takes wasm for an MLP and falls through to cpu for a CNN', async () => {
    await tf.setBackend('cpu');
    const forMlp = await selectBackend({ requiredKernels: ['_FusedMatMul', 'Relu', 'Softmax'] });
    expect(forMlp).toMatchObject({ name: 'wasm', reason: 'best usable backend', detail: 'WebAssembly, SIMD, single-threaded', forcedBy: null, tfjs: tf.version_core });
    expect(forMlp.skipped.map((s) => [s.name, s.reason])).toEqual([
      ['tensorflow', '@tensorflow/tfjs-node-gpu and @tensorflow/tfjs-node are not installed'],
      ['webgpu', 'no GPU adapter: requestAdapter() returned null'],
    ]);
    expect(tf.getBackend()).toBe('wasm');
    // The choice is plain data for the run's environment.
    expect(JSON.parse(JSON.stringify(forMlp))).toEqual(forMlp);

    const forCnn = await selectBackend({ requiredKernels: cnnKernels });
    expect(forCnn.name).toBe('cpu');
    expect(forCnn.skipped.map((s) => s.name)).toEqual(['tensorflow', 'webgpu', 'wasm']);
    expect(forCnn.skipped[2]!.reason).toBe("lacks kernel this model's training needs: Conv2DBackpropFilter");
    expect(tf.getBackend()).toBe('cpu');
  });

  it('takes a forced backend, from the option or CAIRN_BACKEND as the app read it (the option wins)', async () => {
    const fromEnv = await selectBackend({ configured: 'wasm', requiredKernels: ['Add'] });
    expect(fromEnv).toMatchObject({ name: 'wasm', forcedBy: 'CAIRN_BACKEND', reason: 'forced by CAIRN_BACKEND', skipped: [] });
    expect(tf.getBackend()).toBe('wasm');
    const fromOption = await selectBackend({ force: 'cpu', configured: 'wasm' });
    expect(fromOption).toMatchObject({ name: 'cpu', forcedBy: 'option', reason: 'forced', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect((await selectBackend({ configured: 'auto', requiredKernels: cnnKernels })).forcedBy).toBeNull();
  });

  it('fails clearly when the forced backend cannot run the model, keeping the active backend', async () => {
    await tf.setBackend('cpu');
    const err = await selectBackend({ configured: 'wasm', requiredKernels: cnnKernels }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as BackendUnavailableError).code).toBe('INVALID_INPUT');
    expect((err as Error).message).toBe(
      "backend 'wasm' (forced by CAIRN_BACKEND=wasm) is not usable here: lacks kernel this model's training needs: Conv2DBackpropFilter; see 'cairn backends'",
    );
    expect(tf.getBackend()).toBe('cpu');

    await expect(selectBackend({ configured: 'gpu' })).rejects.toThrow(/CAIRN_BACKEND 'gpu' is not a backend/);
  });

  it.runIf(noGpuDevice)('refuses a forced webgpu without a GPU', async () => {
    const err = await selectBackend({ force: 'webgpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toBe("backend 'webgpu' (forced) is not usable here: no GPU adapter: requestAdapter() returned null; see 'cairn backends'");
  });

  it.runIf(!nativeInstalled)('refuses a forced tensorflow that is not installed', async () => {
    await expect(selectBackend({ force: 'tensorflow' })).rejects.toThrow(
      "backend 'tensorflow' (forced) is not usable here: @tensorflow/tfjs-node-gpu and @tensorflow/tfjs-node are not installed; see 'cairn backends'",
    );
  });
});
