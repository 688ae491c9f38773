import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDefinition, loadTrainerModules, runTraining, trainerProviders, type MetricPoint, type Reporter, type TrainingDefinition } from '@cairn/engine';
import { TRAINER_MODULES } from '@cairn/pipeline';
import { openStore, type Store } from '@cairn/store';
import { startRun } from '@cairn/tracking';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import type { ResultRow } from './report.ts';
import { formatMs, formatRatio, median } from './stats.ts';

/**
 * trainers: the examples as `cairn run` trains them (runTraining, the definition's own data
 * and params), on each trainer that can run them here, in one run:
 * - the final validation accuracy on each trainer, averaged over seeds (target: native
 *   within 0.5 points of tfjs);
 * - the fit's wall time on each (native's speed-up where it counts for users: the whole run);
 * - on the best trainer, a fit reporting into a real tracked run (PGlite, in this process)
 *   against one with a no-op Reporter, alternating (target: ≤ 1.05x).
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const EXAMPLES = [
  { name: 'digits-cnn', seeds: [0, 1, 2], quickSeeds: [0] },
  { name: 'iris-mlp', seeds: [0, 1, 2], quickSeeds: [0] },
] as const;
const TARGETS = { accuracyPoints: 0.5, trackingOverhead: 1.05 } as const;
const OVERHEAD_REPS = { full: 5, quick: 2 } as const;

const noop: Reporter = { metrics() {}, artifact() {} };

function trackedReporter(run: { log(m: Record<string, number>, o?: { step?: number }): void }): Reporter {
  return {
    metrics(points: MetricPoint[]) {
      const bySteps = new Map<number, Record<string, number>>();
      for (const p of points) bySteps.set(p.step, { ...(bySteps.get(p.step) ?? {}), [p.key]: p.value });
      for (const [step, values] of bySteps) run.log(values, { step });
    },
    artifact() {},
  };
}

async function fit(def: TrainingDefinition, dataDir: string, trainer: string, seed: number, reporter: Reporter, epochs?: number) {
  const t = performance.now();
  const out = await runTraining({ definition: def, dataDir, trainerName: trainer, seed, reporter, ...(epochs ? { params: { epochs } } : {}) });
  const ms = performance.now() - t;
  if (out.result.status !== 'finished') throw new Error(`${def.name} on ${trainer} (seed ${seed}) ended ${out.result.status}: ${out.result.reason ?? ''}`);
  return { ms, metrics: out.result.metrics, trainer: out.trainer?.name };
}

export async function trainersBench(ctx: BenchContext): Promise<BenchResult> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const loads = await loadTrainerModules(TRAINER_MODULES);
  for (const l of loads.filter((x) => !x.ok)) notes.push(`${l.module}: ${l.reason}`);
  const usable = trainerProviders().filter((p) => p.available().ok).map((p) => p.name);
  for (const p of trainerProviders().filter((x) => !usable.includes(x.name))) {
    const a = p.available();
    notes.push(`${p.name}: not usable here: ${a.ok ? '' : a.reason}`);
  }
  const native = usable.filter((n) => n !== 'tfjs');
  const home = mkdtempSync(path.join(process.env.CAIRN_BENCH_TMP ?? os.tmpdir(), 'cairn-bench-trainers-'));
  let store: Store | undefined;
  try {
    for (const ex of EXAMPLES) {
      const dir = path.join(ROOT, 'examples', ex.name);
      const { definition } = await loadDefinition(path.join(dir, 'train.ts'));
      const seeds = ctx.quick ? ex.quickSeeds : ex.seeds;
      const epochs = ctx.quick ? 2 : undefined;
      const acc = new Map<string, number[]>();
      const ms = new Map<string, number[]>();
      for (const trainer of ['tfjs', ...native]) {
        for (const seed of seeds) {
          progress(`trainers: ${ex.name} on ${trainer}, seed ${seed}`);
          const r = await fit(definition, path.join(dir, 'data'), trainer, seed, noop, epochs);
          if (r.trainer !== trainer) throw new Error(`asked for ${trainer}, trained on ${r.trainer}`);
          acc.set(trainer, [...(acc.get(trainer) ?? []), r.metrics.val_acc ?? Number.NaN]);
          ms.set(trainer, [...(ms.get(trainer) ?? []), r.ms]);
        }
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const base = mean(acc.get('tfjs')!);
      const baseMs = median(ms.get('tfjs')!);
      rows.push({ bench: 'trainers', engine: 'tfjs', case: `${ex.name}: final val_acc, mean of ${seeds.length} seed${seeds.length > 1 ? 's' : ''}`, value: base * 100, unit: '%', stat: `mean of ${seeds.length}`, extra: `per seed ${acc.get('tfjs')!.map((a) => (a * 100).toFixed(1)).join(', ')}`, baseline: true });
      rows.push({ bench: 'trainers', engine: 'tfjs', case: `${ex.name}: whole run (data, build, fit, no export)`, value: baseMs, unit: 'ms', stat: `median of ${seeds.length}`, baseline: true });
      for (const trainer of native) {
        const a = mean(acc.get(trainer)!);
        const diff = Math.abs(a - base) * 100;
        rows.push({
          bench: 'trainers',
          engine: trainer,
          case: `${ex.name}: |val_acc − tfjs's|, points`,
          value: diff,
          unit: 'pt',
          stat: `means of ${seeds.length} seed${seeds.length > 1 ? 's' : ''}`,
          extra: `${trainer} ${(a * 100).toFixed(2)}% (per seed ${acc.get(trainer)!.map((x) => (x * 100).toFixed(1)).join(', ')})`,
          target: { op: '<=', value: TARGETS.accuracyPoints },
        });
        const m = median(ms.get(trainer)!);
        rows.push({ bench: 'trainers', engine: trainer, case: `${ex.name}: whole run (data, build, fit, no export)`, value: m, unit: 'ms', stat: `median of ${seeds.length}`, ratios: [{ vs: 'tfjs', value: baseMs / m }] });
      }

      // Tracking overhead on the best trainer: the faster the fit, the larger the tracker's share.
      const best = native[0] ?? 'tfjs';
      store ??= await openStore({ home });
      const reps = ctx.quick ? OVERHEAD_REPS.quick : OVERHEAD_REPS.full;
      const tracked: number[] = [];
      const plain: number[] = [];
      const trackedFit = async () => {
        const run = await startRun({ store: store!, experiment: `bench-${ex.name}`, captureEnvironment: false });
        const r = await fit(definition, path.join(dir, 'data'), best, 0, trackedReporter(run), epochs);
        await run.finish();
        return r.ms;
      };
      await trackedFit();
      for (let rep = 0; rep < reps; rep++) {
        const order = rep % 2 === 0 ? ['noop', 'tracked'] : ['tracked', 'noop'];
        for (const which of order) {
          if (which === 'noop') plain.push((await fit(definition, path.join(dir, 'data'), best, 0, noop, epochs)).ms);
          else tracked.push(await trackedFit());
        }
        progress(`trainers: ${ex.name} overhead on ${best}, rep ${rep + 1}/${reps}: no-op ${formatMs(plain[rep]!)}, tracked ${formatMs(tracked[rep]!)}`);
      }
      const ratio = median(tracked) / median(plain);
      rows.push({
        bench: 'trainers',
        engine: best,
        case: `${ex.name}: tracked run / no-op Reporter`,
        value: ratio,
        unit: 'x',
        stat: `ratio of medians of ${reps}`,
        extra: `tracked ${formatMs(median(tracked))}, no-op ${formatMs(median(plain))}; paired median ${formatRatio(median(tracked.map((t, i) => t / plain[i]!)))}`,
        target: { op: '<=', value: TARGETS.trackingOverhead },
      });
    }
  } finally {
    await store?.close();
    rmSync(home, { recursive: true, force: true });
  }
  notes.push(`Whole runs include loading the data and building the model (tfjs), as cairn run does; the tracked run logs into PGlite in this process. Load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores at the end`);
  return { rows, notes };
}
