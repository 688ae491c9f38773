import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { compilePlan, loadAddon, nativeUnavailableReason, pushOptimizer, pushWeights } from '@cairn/native';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import { WORKLOADS, compileSpec, seeded, sizing, syntheticBatches, type Sizing, type WorkloadSpec } from './engine-workloads.ts';
import type { ResultRow } from './report.ts';
import { formatRate, formatRatio, median } from './stats.ts';

/**
 * native-cpu: the same two models trained by the C++ core (@cairn/native) against PyTorch at
 * equal threads, in one run: 1 thread each, then every core each (the session's thread
 * count is what CAIRN_THREADS sets; torch.set_num_threads with OPENBLAS_NUM_THREADS equal).
 * Throughput is the native session's steps alone on synthetic data already in native
 * memory, as the tfjs rows time trainOnBatch alone; every step reports its loss and accuracy.
 */

export const NATIVE_TARGET = 1.0; // ≥ PyTorch at equal threads (issue 14; aim 1.5x)
const DISTINCT_BATCHES = 4;
const PYTHON = process.env.CAIRN_BENCH_PYTHON || '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../torch_reference.py', import.meta.url));

type Torch = { ok: true; mlp: number; cnn: number; version: string } | { ok: false; reason: string };

function torchAt(threads: number, quick: boolean): Torch {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), PYTHONUNBUFFERED: '1' };
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, '--threads', String(threads), ...(quick ? ['--quick'] : [])], { env, encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.error || r.status !== 0) return { ok: false, reason: `${PYTHON} torch_reference.py failed: ${r.error?.message ?? r.stderr.trim().split('\n').slice(-2).join(' | ')} (install Debian's python3-torch and libopenblas0-pthread for the reference)` };
  try {
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { mlp: number; cnn: number; torch: string };
    return { ok: true, mlp: out.mlp, cnn: out.cnn, version: out.torch };
  } catch {
    return { ok: false, reason: `torch_reference.py printed no JSON: ${r.stdout.slice(-200)}` };
  }
}

/** Warm-up, then timed repetitions, as engine-workloads' measure; one native call trains DISTINCT_BATCHES steps. */
async function measureNative(w: WorkloadSpec, size: Sizing, threads: number): Promise<{ exPerSec: number[]; steps: number; cpuShare: number }> {
  const model = seeded(7, () => w.build());
  const compile = compileSpec();
  model.compile({ optimizer: compile.optimizer, loss: compile.loss, metrics: compile.metrics! });
  const { plan, trainable } = compilePlan(model, { loss: 'categoricalCrossentropy', metrics: ['accuracy'], optimizer: model.optimizer, labelSize: 10, maxBatch: w.batch });
  const session = new (loadAddon().Session)(plan, threads);
  const batches = syntheticBatches(w, DISTINCT_BATCHES, 11);
  try {
    pushWeights(session, model);
    await pushOptimizer(session, model.optimizer, plan.optimizer, trainable);
    const rows = DISTINCT_BATCHES * w.batch;
    const xs = new Float32Array(rows * w.inputShape.reduce((a, b) => a * b, 1));
    const ys = new Float32Array(rows * 10);
    batches.forEach((b, i) => {
      xs.set(b.xs.dataSync() as Float32Array, (i * xs.length) / DISTINCT_BATCHES);
      ys.set(b.ys.dataSync() as Float32Array, (i * ys.length) / DISTINCT_BATCHES);
    });
    session.setSplit(0, xs, ys, rows);
    const order = Int32Array.from({ length: rows }, (_, i) => i);
    let stepBase = 0;
    const call = async () => {
      const r = await session.train(order, 0, DISTINCT_BATCHES, w.batch, 1, stepBase);
      stepBase += r.steps;
      if (!Number.isFinite(r.values[0]!)) throw new Error('native loss is not finite');
    };
    await call();
    let callMs = Infinity;
    for (let k = 1; k < size.warmupSteps; k++) {
      const t = performance.now();
      await call();
      callMs = performance.now() - t;
    }
    const calls = Math.max(2, Math.min(1000, Math.ceil(size.repMs / callMs)));
    const exPerSec: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let r = 0; r < size.reps; r++) {
      const t = performance.now();
      for (let c = 0; c < calls; c++) await call();
      exPerSec.push((calls * DISTINCT_BATCHES * w.batch) / ((performance.now() - t) / 1000));
    }
    const cpu = process.cpuUsage(cpu0);
    return { exPerSec, steps: calls * DISTINCT_BATCHES, cpuShare: (cpu.user + cpu.system) / 1000 / (performance.now() - t0) };
  } finally {
    session.release();
    tf.dispose(batches.flatMap((b) => [b.xs, b.ys]));
    model.dispose();
  }
}

/** Rows for native-cpu and PyTorch at 1 thread and at every core, with native/PyTorch ratios. */
export async function nativeRows(ctx: BenchContext, bench = 'engine'): Promise<BenchResult> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const unavailable = nativeUnavailableReason();
  if (unavailable) {
    notes.push(`native-cpu: not measured: ${unavailable}`);
    return { rows, notes };
  }
  if (tf.getBackend() !== 'cpu') await tf.setBackend('cpu');
  const size = sizing(ctx.quick);
  const cores = Math.max(1, os.availableParallelism());
  const threadCounts = cores > 1 ? [1, cores] : [1];
  notes.push(`native-cpu: ${loadAddon().isa} kernels; its rows and PyTorch's at the same thread count come from one run (torch.set_num_threads = OPENBLAS_NUM_THREADS = threads)`);
  for (const threads of threadCounts) {
    progress(`${bench}: PyTorch at ${threads} thread(s)`);
    const torch = torchAt(threads, ctx.quick);
    if (!torch.ok) notes.push(`PyTorch at ${threads} thread(s) unavailable: ${torch.reason}`);
    for (const w of WORKLOADS) {
      progress(`${bench}: native-cpu ${w.name} at ${threads} thread(s)`);
      const r = await measureNative(w, size, threads);
      const value = median(r.exPerSec);
      const ratio = torch.ok ? value / torch[w.name] : undefined;
      progress(`${bench}: native-cpu ${w.name} ${threads}T: ${formatRate(value, 'ex/s')}${torch.ok ? `, PyTorch ${formatRate(torch[w.name], 'ex/s')}, ${formatRatio(ratio!)}` : ''}`);
      rows.push({
        bench,
        engine: 'native-cpu',
        case: `${w.label}, ${threads} thread${threads > 1 ? 's' : ''}: native step`,
        value,
        unit: 'ex/s',
        stat: `median of ${r.exPerSec.length} × ${r.steps} steps`,
        extra: `range ${formatRate(Math.min(...r.exPerSec), '').trim()}–${formatRate(Math.max(...r.exPerSec), '').trim()}, CPU ${Math.round(r.cpuShare * 100)}%`,
        ...(ratio !== undefined ? { ratios: [{ vs: `PyTorch ${threads}T`, value: ratio }] } : {}),
      });
      if (torch.ok) {
        rows.push({ bench, engine: 'torch', case: `${w.label}, ${threads} thread${threads > 1 ? 's' : ''}: PyTorch reference`, value: torch[w.name], unit: 'ex/s', stat: 'median (torch_reference.py)', baseline: true });
        rows.push({ bench, engine: 'native-cpu', case: `${w.label}, ${threads} thread${threads > 1 ? 's' : ''}: native-cpu / PyTorch`, value: ratio!, unit: 'x', stat: 'ratio of medians', target: { op: '>=', value: NATIVE_TARGET } });
      }
    }
  }
  return { rows, notes };
}

export async function nativeBench(ctx: BenchContext): Promise<BenchResult> {
  return nativeRows(ctx, 'native');
}
