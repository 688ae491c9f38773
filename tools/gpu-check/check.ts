/**
 * GPU check: trains the digits-cnn example (examples/digits-cnn/train.ts, through
 * runTraining, as `cairn run` does) on webgpu and on the best CPU backend, and prints
 * examples/s and final accuracy for each; then times the engine benchmark's synthetic
 * MLP and 28x28 CNN (tools/bench/src/engine-workloads.ts) on the same backends.
 *
 * Bundled into one file (.gpu/check.mjs) by tools/gpu-check/prepare.sh and run by
 * tools/gpu-check.sh on a machine that has no node_modules. It also runs unbundled:
 *
 *   node --import tsx tools/gpu-check/check.ts [--data DIR] [--epochs N] [--tier T] [--quick] [--no-throughput] [--json FILE]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
// Imported for their kernels; named so a bundler keeps them (tfjs-backend-cpu's package.json
// marks its Node entry free of side effects, so a bare import would be dropped).
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfjsWebgpu from '@tensorflow/tfjs-backend-webgpu';
import {
  TIERS,
  missingKernels,
  probeBackends,
  releaseBackend,
  requiredKernels,
  runTraining,
  selectBackend,
  type BackendName,
  type BackendProbe,
  type MetricPoint,
  type Reporter,
  type Tier,
  type TrainingDefinition,
} from '../../libs/engine/src/index.ts';
// Only for --allow-software-adapter (testing the payload without a GPU).
import { registerWebgpu } from '../../libs/engine/src/backends/webgpu.ts';
import digitsCnn from '../../examples/digits-cnn/train.ts';
import { COMPILE_BY_NAME, WORKLOADS, measure, seeded, sizing, syntheticBatches } from '../bench/src/engine-workloads.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundled = import.meta.url.endsWith('.mjs');

// The engine loads tfjs-backend-webgpu by a specifier it computes at run time, which a
// bundle cannot follow: the payload's node_modules/@tensorflow/tfjs-backend-webgpu is a
// stub that hands back this (bundled) copy, so its kernels land in the bundled tfjs-core.
(globalThis as Record<symbol, unknown>)[Symbol.for('cairn.gpu-check.tfjs-backend-webgpu')] = tfjsWebgpu;
// In the payload the wasm binaries sit beside the bundle.
if (fs.existsSync(path.join(here, 'tfjs-backend-wasm-simd.wasm'))) setWasmPaths(`${here}/`);

const USAGE = `usage: check [--data DIR] [--epochs N] [--tier ${TIERS.join('|')}] [--quick] [--no-throughput] [--json FILE] [--allow-software-adapter]

  --allow-software-adapter   test the payload's webgpu path on a machine without a GPU: where Dawn
                             finds only a software adapter (Mesa's lavapipe, say), which the engine
                             refuses, time the synthetic MLP on it anyway (figures meaningless)`;

interface ExampleResult {
  backend: BackendName;
  status: string;
  reason?: string;
  epochs: number;
  trainExamples: number;
  /** Median over epochs after the first (the first compiles kernels), else the only epoch. */
  examplesPerSec: number;
  /** Examples trained over the whole fit's time (validation included). */
  overallExamplesPerSec: number;
  fitSeconds: number;
  acc?: number;
  valAcc?: number;
  valLoss?: number;
}

interface ThroughputResult {
  backend: BackendName;
  workload: string;
  examplesPerSec?: number;
  reps?: number[];
  skipped?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const rate = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : `${Math.round(x).toLocaleString('en-US')} ex/s`);
const pct = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(4));
const say = (line: string) => console.log(line);

/** Collects the metrics a fit reports; nothing is stored. */
function collector(): Reporter & { points: MetricPoint[]; env: Record<string, unknown> } {
  const points: MetricPoint[] = [];
  const env: Record<string, unknown> = {};
  return {
    points,
    env,
    metrics: (p) => void points.push(...p),
    artifact: () => undefined,
    environment: (facts) => void Object.assign(env, facts),
  };
}

/**
 * tfjs-backend-webgpu 4.22's WebGPUBackend constructor throws "WebGPU is not supported on
 * this device" unless `navigator.gpu` is truthy (its isWebGPUSupported), and Node 20 has no
 * navigator, so an engine that registers the backend without setting it cannot initialise it.
 * Sets a placeholder (tfjs only tests it; the device comes from the engine's factory).
 * Returns whether it had to.
 */
function setNavigatorGpu(): boolean {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return false;
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  g.navigator!.gpu = {};
  return true;
}
const NAVIGATOR_NOTE = 'set navigator.gpu, which tfjs-backend-webgpu requires and the engine does not set: fix libs/engine/src/backends/webgpu.ts';

async function trainExample(definition: TrainingDefinition, backend: BackendName, dataDir: string, opts: { epochs?: number; tier?: Tier }): Promise<ExampleResult | { backend: BackendName; unusable: string }> {
  const reporter = collector();
  const t = performance.now();
  const outcome = await runTraining({
    definition,
    dataDir,
    backend,
    reporter,
    ...(opts.tier ? { tier: opts.tier } : {}),
    ...(opts.epochs ? { params: { epochs: opts.epochs } } : {}),
  });
  const fitSeconds = (performance.now() - t) / 1000;
  // No backend in the outcome: it was refused (unusable, or lacking a kernel this model needs).
  if (!outcome.backend) return { backend, unusable: outcome.result.reason ?? outcome.result.status };
  const perEpoch = reporter.points.filter((p) => p.key === 'examples_per_sec').map((p) => p.value);
  const m = outcome.result.metrics;
  const epochs = outcome.result.epochs;
  const trainExamples = outcome.settings ? outcome.result.steps * outcome.settings.batchSize : 0;
  return {
    backend,
    status: outcome.result.status,
    ...(outcome.result.reason ? { reason: outcome.result.reason } : {}),
    epochs,
    trainExamples,
    examplesPerSec: perEpoch.length > 1 ? median(perEpoch.slice(1)) : (perEpoch[0] ?? Number.NaN),
    overallExamplesPerSec: trainExamples / (outcome.result.elapsedMs / 1000),
    fitSeconds,
    ...(m.acc !== undefined ? { acc: m.acc } : {}),
    ...(m.val_acc !== undefined ? { valAcc: m.val_acc } : {}),
    ...(m.val_loss !== undefined ? { valLoss: m.val_loss } : {}),
  };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        data: { type: 'string' },
        epochs: { type: 'string' },
        tier: { type: 'string' },
        quick: { type: 'boolean', default: false },
        'no-throughput': { type: 'boolean', default: false },
        'allow-software-adapter': { type: 'boolean', default: false },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    say(USAGE);
    return 0;
  }
  const dataDir = path.resolve(args.data ?? 'examples/digits-cnn/data');
  if (!fs.existsSync(dataDir)) {
    console.error(`no data folder at ${dataDir}: run from the repository root or pass --data`);
    return 2;
  }
  const epochs = args.epochs ? Number(args.epochs) : undefined;
  if (epochs !== undefined && !(Number.isInteger(epochs) && epochs > 0)) {
    console.error(`--epochs must be a positive integer\n${USAGE}`);
    return 2;
  }
  const tier = args.tier as Tier | undefined;
  if (tier !== undefined && !TIERS.includes(tier)) {
    console.error(`--tier must be one of ${TIERS.join(', ')}\n${USAGE}`);
    return 2;
  }
  const definition = digitsCnn as unknown as TrainingDefinition;

  say(`gpu-check: ${bundled ? 'bundle' : 'source'} on Node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${os.cpus().length} cores, tfjs ${tf.version_core} (backend-cpu ${version_cpu})`);
  say(`gpu-check: example ${definition.name}, data ${dataDir}${tier ? `, tier ${tier}` : ''}${epochs ? `, ${epochs} epochs` : ''}`);

  const probes: BackendProbe[] = await probeBackends({ webgpuTimeoutMs: 60_000 });
  say('\nbackends:');
  for (const p of probes) say(`  ${p.name.padEnd(10)} ${p.usable ? 'usable  ' : 'unusable'}  ${p.reason}${p.detail ? ` (${p.detail})` : ''}`);
  const usable = (name: BackendName) => probes.some((p) => p.name === name && p.usable);
  const webgpu = probes.find((p) => p.name === 'webgpu')!;

  const examples: ExampleResult[] = [];
  const skipped: { backend: BackendName; reason: string }[] = [];
  const engineBugs: string[] = [];
  const report = (r: ExampleResult) => {
    examples.push(r);
    say(
      `  ${r.backend}: ${r.status}${r.reason ? ` (${r.reason})` : ''}, ${r.epochs} epochs, ${r.trainExamples} examples in ${r.fitSeconds.toFixed(1)} s: ` +
        `${rate(r.examplesPerSec)} (${r.epochs > 1 ? 'median epoch after the first' : 'its one epoch'}; overall ${rate(r.overallExamplesPerSec)}), acc ${pct(r.acc)}, val_acc ${pct(r.valAcc)}`,
    );
  };

  say(`\n${definition.name} on webgpu:`);
  if (!webgpu.usable) {
    const reason = `${webgpu.reason}${webgpu.detail ? ` (${webgpu.detail})` : ''}`;
    skipped.push({ backend: 'webgpu', reason });
    say(`  webgpu: SKIPPED: ${reason}`);
  } else {
    const run = () => trainExample(definition, 'webgpu', dataDir, { ...(epochs ? { epochs } : {}), ...(tier ? { tier } : {}) });
    let r = await run();
    if ('unusable' in r && r.unusable.includes('WebGPU is not supported on this device') && setNavigatorGpu()) {
      say(`  webgpu: ENGINE BUG: ${r.unusable}`);
      say(`  webgpu: retrying after a workaround here: ${NAVIGATOR_NOTE}`);
      engineBugs.push(`webgpu: ${r.unusable}; ${NAVIGATOR_NOTE}`);
      r = await run();
    }
    if ('unusable' in r) {
      skipped.push({ backend: 'webgpu', reason: r.unusable });
      say(`  webgpu: SKIPPED: ${r.unusable}`);
    } else report(r);
  }

  // The best CPU backend that can train this model: native TensorFlow, else wasm (which
  // lacks the convolution gradients today), else the always-complete cpu backend.
  say(`\n${definition.name} on the best CPU backend:`);
  let cpuBackend: BackendName | undefined;
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    if (!usable(name)) {
      say(`  ${name}: not usable: ${probes.find((p) => p.name === name)?.reason ?? 'not probed'}`);
      continue;
    }
    const r = await trainExample(definition, name, dataDir, { ...(epochs ? { epochs } : {}), ...(tier ? { tier } : {}) });
    if ('unusable' in r) {
      say(`  ${name}: cannot train it: ${r.unusable}`);
      continue;
    }
    cpuBackend = name;
    report(r);
    break;
  }

  const throughput: ThroughputResult[] = [];
  if (args['allow-software-adapter'] && !webgpu.usable && webgpu.reason.startsWith('only a software adapter')) {
    say('\nwebgpu on the software adapter (--allow-software-adapter: a test of the payload, not a figure):');
    await registerWebgpu();
    if (setNavigatorGpu()) say(`  (${NAVIGATOR_NOTE})`);
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend(webgpu) failed on the software adapter');
    await tf.ready();
    const mlp = WORKLOADS.find((w) => w.name === 'mlp')!;
    const r = await measure(mlp, sizing(true));
    say(`  webgpu (software) ${mlp.label}: ${rate(median(r.exPerSec))} (median of ${r.exPerSec.length} × ${r.steps} steps)`);
    releaseBackend();
  }
  if (!args['no-throughput']) {
    say(`\nsynthetic throughput (trainOnBatch, as \`npm run bench -- engine\`${args.quick ? ', quick' : ''}):`);
    const kernels = new Map<string, string[]>();
    await selectBackend({ force: 'cpu' });
    for (const w of WORKLOADS) {
      const model = seeded(7, () => w.build());
      const [sample] = syntheticBatches(w, 1, 5, 2);
      try {
        kernels.set(w.name, await requiredKernels(model, sample!, COMPILE_BY_NAME));
      } finally {
        tf.dispose([sample!.xs, sample!.ys]);
        model.dispose();
      }
    }
    const backends = [...(webgpu.usable ? (['webgpu'] as const) : []), ...(usable('wasm') ? (['wasm'] as const) : []), ...(cpuBackend && cpuBackend !== 'wasm' ? [cpuBackend] : [])];
    for (const backend of backends) {
      await selectBackend({ force: backend });
      for (const w of WORKLOADS) {
        const missing = await missingKernels(backend, kernels.get(w.name)!);
        if (missing.length) {
          throughput.push({ backend, workload: w.label, skipped: `cannot train: missing kernels ${missing.join(', ')}` });
          say(`  ${backend.padEnd(10)} ${w.label}: cannot train: missing kernels ${missing.join(', ')}`);
          continue;
        }
        const r = await measure(w, sizing(args.quick));
        const value = median(r.exPerSec);
        throughput.push({ backend, workload: w.label, examplesPerSec: value, reps: r.exPerSec });
        say(`  ${backend.padEnd(10)} ${w.label}: ${rate(value)} (median of ${r.exPerSec.length} × ${r.steps} steps; ${r.exPerSec.map((x) => Math.round(x)).join(', ')})`);
      }
    }
  }
  releaseBackend();

  say('\nsummary:');
  say(`  ${'backend'.padEnd(10)} ${'what'.padEnd(64)} ${'ex/s'.padStart(12)}  final accuracy`);
  for (const r of examples) say(`  ${r.backend.padEnd(10)} ${`${definition.name} (${r.epochs} epochs, runTraining)`.padEnd(64)} ${rate(r.examplesPerSec).padStart(12)}  acc ${pct(r.acc)}, val_acc ${pct(r.valAcc)}`);
  for (const s of skipped) say(`  ${s.backend.padEnd(10)} ${`${definition.name}: SKIPPED`.padEnd(64)} ${'n/a'.padStart(12)}  ${s.reason}`);
  for (const t of throughput) say(`  ${t.backend.padEnd(10)} ${t.workload.padEnd(64)} ${(t.skipped ? 'n/a' : rate(t.examplesPerSec)).padStart(12)}  ${t.skipped ?? ''}`);
  for (const b of engineBugs) say(`  ENGINE BUG (worked around for these figures): ${b}`);

  if (args.json) {
    const out = { when: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model.trim(), cores: os.cpus().length, tfjs: tf.version_core, probes, examples, skipped, throughput, engineBugs };
    fs.mkdirSync(path.dirname(path.resolve(args.json)), { recursive: true });
    fs.writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
    say(`\nresults written to ${args.json}`);
  }
  const failed = examples.filter((r) => r.status !== 'finished');
  if (failed.length) say(`\n${failed.length} example run(s) did not finish`);
  if (cpuBackend === undefined) say('\nno CPU backend could train the example');
  return failed.length || cpuBackend === undefined ? 1 : 0;
}

const code = await main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  return 1;
});
// Dawn can keep the event loop alive after its device is gone.
process.exit(code);
