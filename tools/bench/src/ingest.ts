import os from 'node:os';
import { newId } from '@cairn/schema';
import type { MetricPoint, Store } from '@cairn/store';
import { progress, prng, type BenchContext, type BenchResult } from './context.ts';
import { Handles, type BenchEngine, type CopyPayload, type Raw } from './engines.ts';
import type { ResultRow } from './report.ts';
import { formatInt, formatRate, median } from './stats.ts';

/**
 * ingest: points per second through Store.logMetrics, as training processes send
 * them, against a raw COPY of the same rows into the same table.
 */

export const INGEST_TARGET = { postgres: 300_000, pglite: 100_000 } as const;

const KEYS = ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'grad_norm', 'throughput', 'epoch', 'precision', 'recall'];
const COPY_TARGET = 'metrics (run_id,key,step,wall_ms,value)';

interface Workload {
  writers: number;
  batch: number;
  total: number;
}

/** The headline workload: 2 writers (two runs), 10 keys, batches of 10,000 points, 1,000,000 points per repetition. */
const HEADLINE: Workload = { writers: 2, batch: 10_000, total: 1_000_000 };
const REPS = 3;

/**
 * Each writer's batches, generated once, outside every timed section. Points come
 * step by step with every key at each step, as a training loop logs them; a batch
 * of 10,000 points is 1,000 steps of 10 keys.
 */
function makeBatches(w: Workload, seed: number): MetricPoint[][][] {
  const stepsPerBatch = w.batch / KEYS.length;
  const perWriter = w.total / w.writers;
  if (!Number.isInteger(perWriter / w.batch) || w.batch % KEYS.length) throw new Error(`workload ${JSON.stringify(w)} does not split into whole batches`);
  return Array.from({ length: w.writers }, (_, writer) => {
    const rnd = prng(seed + writer);
    const batches: MetricPoint[][] = [];
    for (let b = 0; b < perWriter / w.batch; b++) {
      const pts: MetricPoint[] = new Array(w.batch);
      let i = 0;
      for (let s = 0; s < stepsPerBatch; s++) {
        const step = b * stepsPerBatch + s;
        const wallMs = 1_700_000_000_000 + step * 50;
        for (let k = 0; k < KEYS.length; k++) pts[i++] = { key: KEYS[k]!, value: Math.exp(-step / 20_000) * (k + 1) + rnd() * 0.01, step, wallMs };
      }
      batches.push(pts);
    }
    return batches;
  });
}

/** The same batches as text-format COPY rows for one run, encoded for the engine. */
function copyPayloads(raw: Raw, batches: MetricPoint[][], runId: string, oneStatement: boolean): CopyPayload[] {
  const texts = batches.map((pts) => {
    let s = '';
    for (const p of pts) s += `${runId}\t${p.key}\t${p.step}\t${p.wallMs}\t${p.value}\n`;
    return s;
  });
  return oneStatement ? [raw.payload(texts.join(''))] : texts.map((t) => raw.payload(t));
}

let checkpointRefused = false;

/**
 * Starts every timed section with no dirty pages left over from the last one.
 * CHECKPOINT needs superuser or pg_checkpoint; without either it is skipped.
 */
async function checkpoint(h: Handles): Promise<void> {
  if (checkpointRefused) return;
  try {
    await (await h.raw()).query('CHECKPOINT');
  } catch (e) {
    checkpointRefused = true;
    progress(`CHECKPOINT refused (${(e as Error).message}); timed sections start without one`);
  }
}

interface Rep {
  rate: number;
  /** This process's CPU time (user + system) over wall time during the timed section. */
  cpu: number;
}

/** One repetition through the store: fresh runs, every writer concurrently. */
async function storeRep(h: Handles, experimentId: string, w: Workload, batches: MetricPoint[][][]): Promise<Rep> {
  await checkpoint(h);
  const store: Store = await h.store();
  const runs = await Promise.all(batches.map(() => store.createRun({ experimentId })));
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    runs.map(async (run, i) => {
      for (const pts of batches[i]!) await store.logMetrics(run.id, pts);
    }),
  );
  const s = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Untimed check that every point landed (the summaries are written by the same statement as the points).
  for (const run of runs) {
    const sums = await store.getMetricSummaries(run.id);
    const n = Object.values(sums).reduce((a, m) => a + m.count, 0);
    if (n !== w.total / w.writers) throw new Error(`run ${run.id}: ${n} points stored, expected ${w.total / w.writers}`);
  }
  return { rate: w.total / s, cpu: (cpu.user + cpu.system) / 1e6 / s };
}

/** One repetition of the baseline: the same rows COPYed for new run ids, one connection per writer. */
async function copyRep(h: Handles, w: Workload, batches: MetricPoint[][][], oneStatement = false): Promise<Rep> {
  await checkpoint(h);
  const raws = await h.raws(w.writers);
  const payloads = batches.map((b, i) => copyPayloads(raws[i]!, b, newId(), oneStatement));
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await Promise.all(
    raws.map(async (raw, i) => {
      for (const p of payloads[i]!) await raw.copy(COPY_TARGET, p);
    }),
  );
  const s = (performance.now() - t) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { rate: w.total / s, cpu: (cpu.user + cpu.system) / 1e6 / s };
}

export async function ingestBench(engine: BenchEngine, ctx: BenchContext): Promise<BenchResult> {
  const head: Workload = ctx.quick ? { ...HEADLINE, total: 200_000 } : HEADLINE;
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const { place, store } = await engine.create();
  const h = new Handles(engine, place, store);
  try {
    const exp = await store.ensureExperiment({ name: 'bench-ingest' });
    progress(`${engine.name}: generating ${formatInt(head.total)} points`);
    const batches = makeBatches(head, 1);

    // Interleaved, alternating which goes first, so table growth and background
    // noise fall on both sides alike.
    const storeReps: Rep[] = [];
    const copyReps: Rep[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const order = rep % 2 === 0 ? (['store', 'copy'] as const) : (['copy', 'store'] as const);
      for (const which of order) {
        if (which === 'store') storeReps.push(await storeRep(h, exp.id, head, batches));
        else copyReps.push(await copyRep(h, head, batches));
      }
      progress(`${engine.name}: rep ${rep + 1}/${REPS}: store ${formatRate(storeReps[rep]!.rate)}, COPY ${formatRate(copyReps[rep]!.rate)}`);
    }
    const storeRates = storeReps.map((r) => r.rate);
    const copyRates = copyReps.map((r) => r.rate);
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    notes.push(
      `ingest: this Node process used ${pct(median(storeReps.map((r) => r.cpu)))} of one core during store.logMetrics ` +
        `and ${pct(median(copyReps.map((r) => r.cpu)))} during COPY (median over reps; ${os.cpus().length} cores in all)` +
        (engine.name === 'pglite' ? '; PGlite runs inside this process, so that includes the database' : '; the database backends are separate processes'),
    );
    const storeMed = median(storeRates);
    const copyMed = median(copyRates);
    const label = `${head.writers} writers × ${head.batch / 1000}k-pt batches, ${formatInt(head.total)} pts`;
    const range = (xs: number[]) => `${formatRate(Math.min(...xs), '').trim()}–${formatRate(Math.max(...xs), '').trim()}`;
    rows.push(
      {
        bench: 'ingest',
        engine: engine.name,
        case: `store.logMetrics, ${label}`,
        value: storeMed,
        unit: 'pts/s',
        stat: `median of ${REPS}`,
        extra: `range ${range(storeRates)}`,
        target: { op: '>=', value: INGEST_TARGET[engine.name] },
        ratios: [{ vs: 'COPY', value: storeMed / copyMed }],
      },
      {
        bench: 'ingest',
        engine: engine.name,
        case: `COPY same rows/batches (baseline)`,
        value: copyMed,
        unit: 'pts/s',
        stat: `median of ${REPS}`,
        extra: `range ${range(copyRates)}`,
        baseline: true,
      },
    );

    if (!ctx.quick) {
      // Exploratory rows: one repetition each, 400k points; compare them with the
      // headline ratio rather than with each other.
      const extras: { w: Workload; copyOneStatement?: boolean; label: string }[] = [
        { w: { writers: 1, batch: 10_000, total: 400_000 }, label: 'store.logMetrics, 1 writer × 10k' },
        { w: { writers: 2, batch: 20_000, total: 400_000 }, label: 'store.logMetrics, 2 writers × 20k' },
        { w: { writers: 4, batch: 10_000, total: 400_000 }, label: 'store.logMetrics, 4 writers × 10k' },
        { w: { writers: 2, batch: 10_000, total: 400_000 }, copyOneStatement: true, label: 'COPY, 2 writers × one statement each' },
      ];
      for (const x of extras) {
        const b = makeBatches(x.w, 7);
        const { rate } = x.copyOneStatement ? await copyRep(h, x.w, b, true) : await storeRep(h, exp.id, x.w, b);
        progress(`${engine.name}: ${x.label}: ${formatRate(rate)}`);
        rows.push({
          bench: 'ingest',
          engine: engine.name,
          case: `${x.label} (extra, ${formatInt(x.w.total)} pts)`,
          value: rate,
          unit: 'pts/s',
          stat: '1 run',
          ratios: [{ vs: 'COPY', value: rate / copyMed }],
        });
      }
    }
    return { rows, notes };
  } finally {
    await h.close().catch(() => {});
    await engine.cleanup();
  }
}
