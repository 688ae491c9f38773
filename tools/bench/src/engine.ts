import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  BACKENDS,
  LayersTrainer,
  missingKernels,
  probeBackends,
  releaseBackend,
  requiredKernels,
  selectBackend,
  type BackendName,
  type BackendProbe,
  type MetricPoint,
  type Reporter,
} from '@cairn/engine';
import { openStore } from '@cairn/store';
import { startRun } from '@cairn/tracking';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import { nativeRows } from './engine-native.ts';
import { COMPILE_BY_NAME, WORKLOADS, compileSpec, measure, seeded, sizing, syntheticBatches, type Workload } from './engine-workloads.ts';
import type { ResultRow } from './report.ts';
import { formatMs, formatRate, formatRatio, median } from './stats.ts';

/**
 * engine: tfjs training throughput of two small reference models on every backend that
 * works here, against a PyTorch run of the same models (torch_reference.py beside this
 * folder, when Debian's python3-torch is installed), and what tracking a fit costs.
 *
 * Throughput is `model.trainOnBatch` alone, on synthetic data already on the backend:
 * the ceiling the trainer's loop works under. Every step waits for its loss, as the
 * trainer does, so a GPU backend's queue cannot hide work.
 */

export const ENGINE_TARGETS = { trackingOverhead: 1.05 } as const;

// --- PyTorch reference ---------------------------------------------------------------------------

/** Debian's interpreter, not the first python3 on PATH (which may lack torch); CAIRN_BENCH_PYTHON overrides it. */
const PYTHON = process.env.CAIRN_BENCH_PYTHON || '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../torch_reference.py', import.meta.url));

type TorchReference = { ok: true; mlp: number; cnn: number; version: string; threads: number; blasThreads: string } | { ok: false; reason: string };

/**
 * The same two models in PyTorch, as STACK.md describes the fair reference: Debian's
 * python3-torch with OpenBLAS, one BLAS thread, two torch threads.
 */
function torchReference(quick: boolean): TorchReference {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', PYTHONUNBUFFERED: '1' };
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { env, encoding: 'utf8', timeout: 60_000 });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : probe.stderr.trim().split('\n').pop() || `exit ${probe.status}`;
    return { ok: false, reason: `${PYTHON} cannot import torch (${why}); install Debian's python3-torch and libopenblas0-pthread for the reference (see STACK.md)` };
  }
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, ...(quick ? ['--quick'] : [])], { env, encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.error || r.status !== 0) {
    return { ok: false, reason: `torch_reference.py failed: ${r.error?.message ?? r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
  try {
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { mlp: number; cnn: number; torch: string; threads: number; openblas_num_threads: string };
    return { ok: true, mlp: out.mlp, cnn: out.cnn, version: out.torch, threads: out.threads, blasThreads: out.openblas_num_threads };
  } catch {
    return { ok: false, reason: `torch_reference.py printed no JSON: ${r.stdout.slice(-200)}` };
  }
}

// --- Tracking overhead ----------------------------------------------------------------------------

/** Steps per overhead fit, and how often per-batch metrics are reported. */
const OVERHEAD = { steps: 48, quickSteps: 16, batchMetricsEvery: 1, reps: 5, quickReps: 3 } as const;

const noopReporter: Reporter = { metrics() {}, artifact() {} };

/** The Reporter `cairn run` gives the engine: points grouped by step into run.log. */
function trackedReporter(run: { log(m: Record<string, number>, o?: { step?: number }): void }): Reporter {
  return {
    metrics(points: MetricPoint[]) {
      const bySteps = new Map<number, Record<string, number>>();
      for (const p of points) {
        const row = bySteps.get(p.step) ?? {};
        row[p.key] = p.value;
        bySteps.set(p.step, row);
      }
      for (const [step, values] of bySteps) run.log(values, { step });
    },
    artifact() {},
  };
}

/** One fit's wall time and this process's CPU time over it (ms). */
interface Fit {
  ms: number;
  cpuMs: number;
}

async function fitOnce(reporter: Reporter, xs: tf.Tensor, ys: tf.Tensor): Promise<Fit> {
  const mlp = WORKLOADS[0]!;
  const model = seeded(7, () => mlp.build());
  const compile = compileSpec();
  try {
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    const r = await new LayersTrainer().train({
      model,
      compile,
      data: { train: { xs, ys }, info: { inputShape: mlp.inputShape, numClasses: 10, counts: { train: xs.shape[0]! } } },
      epochs: 1,
      batchSize: mlp.batch,
      seed: 3,
      objective: { metric: 'loss', direction: 'minimize' },
      policies: [],
      reporter,
      batchMetricsEvery: OVERHEAD.batchMetricsEvery,
    });
    const ms = performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    if (r.status !== 'finished') throw new Error(`overhead fit ended ${r.status}: ${r.reason ?? ''}`);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    model.dispose();
    if (compile.optimizer instanceof tf.Optimizer) compile.optimizer.dispose();
  }
}

/**
 * The same short MLP fit through LayersTrainer with a no-op Reporter and with one that
 * logs into a real tracked run on a fresh embedded store (PGlite, in this process, so its
 * writes compete with training for this thread), alternating which goes first.
 */
async function trackingOverhead(backend: BackendName, quick: boolean, rows: ResultRow[], notes: string[]): Promise<void> {
  const steps = quick ? OVERHEAD.quickSteps : OVERHEAD.steps;
  const reps = quick ? OVERHEAD.quickReps : OVERHEAD.reps;
  const mlp = WORKLOADS[0]!;
  const home = mkdtempSync(path.join(process.env.CAIRN_BENCH_TMP ?? os.tmpdir(), 'cairn-bench-engine-'));
  const store = await openStore({ home });
  const { xs, ys } = tf.tidy(() => ({
    xs: tf.randomUniform([steps * mlp.batch, ...mlp.inputShape], 0, 1, 'float32', 21),
    ys: tf.cast(tf.oneHot(tf.randomUniform([steps * mlp.batch], 0, 10, 'int32', 22), 10), 'float32'),
  }));
  const noop: Fit[] = [];
  const tracked: Fit[] = [];
  const finishMs: number[] = [];
  let points = 0;
  try {
    const trackedFit = async (timed: boolean) => {
      const run = await startRun({ store, experiment: 'bench-engine-overhead', params: { steps, batchSize: mlp.batch, backend }, captureEnvironment: false });
      const reporter = trackedReporter(run);
      const counting: Reporter = { ...reporter, metrics: (p) => ((points += timed ? p.length : 0), reporter.metrics(p)) };
      const fit = await fitOnce(counting, xs, ys);
      const t = performance.now();
      await run.finish();
      if (timed) {
        tracked.push(fit);
        finishMs.push(performance.now() - t);
      }
    };
    // One untimed pair first: kernels, PGlite's first writes.
    await fitOnce(noopReporter, xs, ys);
    await trackedFit(false);
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 0 ? ['noop', 'tracked'] : ['tracked', 'noop'];
      for (const which of order) {
        if (which === 'noop') noop.push(await fitOnce(noopReporter, xs, ys));
        else await trackedFit(true);
      }
      progress(`engine: overhead rep ${rep + 1}/${reps}: no-op ${formatMs(noop[rep]!.ms)}, tracked ${formatMs(tracked[rep]!.ms)}`);
    }
  } finally {
    tf.dispose([xs, ys]);
    await store.close();
    rmSync(home, { recursive: true, force: true });
  }
  const ms = (fits: Fit[]) => fits.map((f) => f.ms);
  const cpuMs = (fits: Fit[]) => fits.map((f) => f.cpuMs);
  const ratio = median(ms(tracked)) / median(ms(noop));
  const paired = median(tracked.map((t, i) => t.ms / noop[i]!.ms));
  const cpuRatio = median(cpuMs(tracked)) / median(cpuMs(noop));
  const label = `MLP fit, ${steps} steps × ${mlp.batch} on ${backend}, batch metrics every ${OVERHEAD.batchMetricsEvery} step`;
  rows.push(
    {
      bench: 'engine',
      engine: backend,
      case: 'tracking overhead: tracked fit / no-op fit',
      value: ratio,
      unit: 'x',
      stat: `ratio of medians of ${reps}`,
      extra: `paired median ${formatRatio(paired)}`,
      target: { op: '<=', value: ENGINE_TARGETS.trackingOverhead },
    },
    {
      bench: 'engine',
      engine: backend,
      case: 'tracking overhead in process CPU time (less sensitive to other load)',
      value: cpuRatio,
      unit: 'x',
      stat: `ratio of medians of ${reps}`,
    },
    {
      bench: 'engine',
      engine: backend,
      case: `${label}, tracked (startRun → PGlite)`,
      value: median(ms(tracked)),
      unit: 'ms',
      stat: `median of ${reps}`,
      extra: `run.finish() after it ${formatMs(median(finishMs))}`,
      ratios: [{ vs: 'no-op', value: ratio }],
    },
    { bench: 'engine', engine: backend, case: `${label}, no-op Reporter (baseline)`, value: median(ms(noop)), unit: 'ms', stat: `median of ${reps}`, baseline: true },
  );
  notes.push(
    `tracking overhead: ${Math.round(points / reps)} metric points per tracked fit (per-batch loss and accuracy every step, then the epoch's); ` +
      `the embedded store (PGlite) runs in this process, so its writes share the thread with training; run.finish() (final flush) is outside the timed fit`,
  );
}

// --- The benchmark ----------------------------------------------------------------------------------

export async function engineBench(ctx: BenchContext): Promise<BenchResult> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const size = sizing(ctx.quick);
  const load0 = os.loadavg()[0]!;

  progress('engine: probing backends');
  const probes: BackendProbe[] = await probeBackends();
  for (const p of probes.filter((x) => !x.usable)) notes.push(`${p.name}: not usable here: ${p.reason}${p.detail ? ` (${p.detail})` : ''}`);
  const usable = probes.filter((p) => p.usable);

  // The kernels one training step of each model needs (found on cpu, on a copy of the model).
  const kernels = new Map<Workload, string[]>();
  for (const w of WORKLOADS) {
    const model = seeded(7, () => w.build());
    const [sample] = syntheticBatches(w, 1, 5);
    try {
      kernels.set(w.name, await requiredKernels(model, { xs: sample!.xs, ys: sample!.ys }, COMPILE_BY_NAME));
    } finally {
      tf.dispose([sample!.xs, sample!.ys]);
      model.dispose();
    }
  }

  progress('engine: PyTorch reference');
  const torch = torchReference(ctx.quick);
  if (torch.ok) notes.push(`PyTorch ${torch.version} (${PYTHON}), torch threads ${torch.threads}, OPENBLAS_NUM_THREADS=${torch.blasThreads}: the reference; tfjs rows show their ratio to it`);
  else notes.push(`PyTorch reference unavailable: ${torch.reason}. For scale only (another run, not this one): STACK.md records 60–63k ex/s on the MLP and 19.5–20k on the CNN`);

  const measured = new Map<string, number>();
  const backends = BACKENDS.filter((b) => usable.some((p) => p.name === b));
  try {
    for (const backend of [...backends]) {
      let detail: string;
      try {
        const choice = await selectBackend({ force: backend });
        detail = [choice.reason, choice.detail].filter(Boolean).join(', ');
      } catch (e) {
        // Probed usable, yet it would not start (the webgpu probe runs in a child process).
        notes.push(`${backend}: probed usable but could not be selected: ${(e as Error).message}`);
        backends.splice(backends.indexOf(backend), 1);
        continue;
      }
      for (const w of WORKLOADS) {
        const missing = await missingKernels(backend, kernels.get(w.name)!);
        if (missing.length > 0) {
          rows.push({ bench: 'engine', engine: backend, case: `${w.label}: trainOnBatch`, value: Number.NaN, unit: 'ex/s', stat: '', note: `cannot train: missing kernels ${missing.join(', ')}` });
          continue;
        }
        if (tf.getBackend() !== backend) throw new Error(`the active backend is ${tf.getBackend()}, not ${backend}`);
        progress(`engine: ${backend} ${w.name}${detail ? ` (${detail})` : ''}`);
        const r = await measure(w, size);
        const value = median(r.exPerSec);
        measured.set(`${backend}/${w.name}`, value);
        const ratios = [];
        if (torch.ok) ratios.push({ vs: 'PyTorch', value: value / torch[w.name] });
        progress(`engine: ${backend} ${w.name}: ${formatRate(value, 'ex/s')} (${r.exPerSec.map((x) => formatRate(x, '').trim()).join(', ')})`);
        rows.push({
          bench: 'engine',
          engine: backend,
          case: `${w.label}: trainOnBatch`,
          value,
          unit: 'ex/s',
          stat: `median of ${r.exPerSec.length} × ${r.steps} step${r.steps > 1 ? 's' : ''}`,
          extra: `range ${formatRate(Math.min(...r.exPerSec), '').trim()}–${formatRate(Math.max(...r.exPerSec), '').trim()}, CPU ${Math.round(r.cpuShare * 100)}%`,
          ...(ratios.length ? { ratios } : {}),
        });
      }
    }
    for (const w of WORKLOADS) {
      const cpu = measured.get(`cpu/${w.name}`);
      const faster = backends.filter((b) => b !== 'cpu' && measured.has(`${b}/${w.name}`));
      if (cpu && faster.length) notes.push(`${w.name}: ${faster.map((b) => `${b} ${formatRatio(measured.get(`${b}/${w.name}`)! / cpu)}`).join(', ')} the cpu backend`);
      if (!torch.ok) {
        const recorded = w.name === 'mlp' ? 63_000 : 20_000;
        const best = Math.max(...backends.map((b) => measured.get(`${b}/${w.name}`) ?? 0));
        if (best > 0) notes.push(`${w.name}: best tfjs figure here is ${formatRatio(best / recorded)} STACK.md's recorded PyTorch ${formatRate(recorded, 'ex/s')} (a figure from another run: indicative only)`);
      }
    }
    if (torch.ok) {
      for (const w of WORKLOADS) rows.push({ bench: 'engine', engine: 'torch', case: `${w.label}: PyTorch reference`, value: torch[w.name], unit: 'ex/s', stat: 'median (torch_reference.py)', baseline: true });
    }

    // native-cpu beside PyTorch at equal threads (1 and every core).
    const native = await nativeRows(ctx);
    rows.push(...native.rows);
    notes.push(...native.notes);

    // Tracking overhead on the best usable backend, where the fit is fastest and the
    // tracker's share therefore largest.
    const best = backends[0];
    if (best) {
      await selectBackend({ force: best });
      progress(`engine: tracking overhead on ${best}`);
      await trackingOverhead(best, ctx.quick, rows, notes);
    }
  } finally {
    releaseBackend();
  }
  const cores = os.cpus().length;
  const load1 = os.loadavg()[0]!;
  notes.push(
    `CPU column: this process's CPU time over wall time while timing (100% = one core; tfjs cpu and this wasm build are single-threaded). ` +
      `Load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end, on ${cores} cores${Math.max(load0, load1) > cores ? ': the machine was busy with other work, so the figures are low' : ''}`,
  );
  return { rows, notes };
}
