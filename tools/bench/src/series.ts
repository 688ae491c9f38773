import { lttb, type MetricPoint, type MetricSeries, type SeriesPoint } from '@cairn/store';
import { progress, prng, type BenchContext, type BenchResult } from './context.ts';
import { Handles, type BenchEngine } from './engines.ts';
import type { ResultRow } from './report.ts';
import { formatCount, formatInt, formatMs, formatRate, median, summarize } from './stats.ts';

/**
 * series: a 1,000,000-point series downsampled to 2,000 points by
 * Store.getMetricSeries (lttb and minmax), against reading the raw series and
 * against the in-memory lttb over the same points already in JS.
 */

export const SERIES_TARGET_MS = 100;

const POINTS = 1_000_000;
const QUICK_POINTS = 200_000;
const BATCH = 20_000;
const MAX_POINTS = 2_000;
const KEY = 'loss';
const REPS = 10;
/** Reading a million rows takes about a second (PostgreSQL) to five (PGlite): fewer samples. */
const RAW_REPS = 3;

/** Planted spikes: a downsampled chart must still show every one of them. */
const SPIKES = [
  { at: 0.123457, value: 50 },
  { at: 0.5, value: 100 },
  { at: 0.876543, value: -40 },
];

function spikesFor(total: number): Map<number, number> {
  return new Map(SPIKES.map((s) => [Math.floor(s.at * total), s.value]));
}

/** A slow sine with a little noise, and the spikes. */
function batchAt(start: number, n: number, spikes: Map<number, number>, rnd: () => number): MetricPoint[] {
  const pts: MetricPoint[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const step = start + i;
    pts[i] = { key: KEY, step, wallMs: 1_700_000_000_000 + step * 20, value: spikes.get(step) ?? Math.sin(step / 20_000) + (rnd() - 0.5) * 0.05 };
  }
  return pts;
}

function spikesKept(s: MetricSeries, spikes: Map<number, number>): number {
  let kept = 0;
  for (const [step, value] of spikes) if (s.points.some((p) => p.step === step && p.value === value)) kept++;
  return kept;
}

export async function seriesBench(engine: BenchEngine, ctx: BenchContext): Promise<BenchResult> {
  const total = ctx.quick ? QUICK_POINTS : POINTS;
  const spikes = spikesFor(total);
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const { place, store: first } = await engine.create();
  const h = new Handles(engine, place, first);
  try {
    const exp = await first.ensureExperiment({ name: 'bench-series' });
    const run = await first.createRun({ experimentId: exp.id });
    progress(`${engine.name}: seeding ${formatInt(total)} points with logMetrics in batches of ${formatInt(BATCH)}`);
    const rnd = prng(3);
    let seedMs = 0;
    for (let start = 0; start < total; start += BATCH) {
      const pts = batchAt(start, Math.min(BATCH, total - start), spikes, rnd);
      const t = performance.now();
      await first.logMetrics(run.id, pts);
      seedMs += performance.now() - t;
    }
    notes.push(`series: seeded ${formatInt(total)} points (1 writer, ${formatInt(BATCH)}-pt batches) at ${formatRate(total / (seedMs / 1000))}`);

    // The store's downsampled reads: one warm-up each, then lttb and minmax alternately.
    const store = await h.store();
    const methods = ['lttb', 'minmax'] as const;
    const samples: Record<(typeof methods)[number], number[]> = { lttb: [], minmax: [] };
    const last: Partial<Record<(typeof methods)[number], MetricSeries>> = {};
    for (let rep = -1; rep < REPS; rep++) {
      for (const method of methods) {
        const t = performance.now();
        const s = await store.getMetricSeries(run.id, KEY, { maxPoints: MAX_POINTS, method });
        const ms = performance.now() - t;
        if (rep >= 0) samples[method].push(ms);
        last[method] = s;
      }
    }
    for (const method of methods) {
      const s = last[method]!;
      if (s.total !== total || s.method !== method || s.points.length > MAX_POINTS || s.points.length < MAX_POINTS / 2) {
        throw new Error(`getMetricSeries(${method}) returned total ${s.total}, method ${s.method}, ${s.points.length} points`);
      }
      const kept = spikesKept(s, spikes);
      notes.push(
        `series: ${method}: ${s.points.length} points; planted spikes kept: ${kept}/${spikes.size}` +
          (kept === spikes.size ? '' : ` — MISSING at steps ${[...spikes.keys()].filter((st) => !s.points.some((p) => p.step === st)).join(', ')}`),
      );
    }

    // Baseline 1: the raw series, read with plain SQL beside the store (PGlite: after closing it).
    const raw = await h.raw();
    const readSql = 'SELECT step, value, wall_ms FROM metrics WHERE run_id = $1 AND key = $2 ORDER BY step';
    const rawSamples: number[] = [];
    let rawRows: { step: number; value: number; wall_ms: number }[] = [];
    for (let rep = -1; rep < RAW_REPS; rep++) {
      rawRows = [];
      const t = performance.now();
      rawRows = await raw.query<{ step: number; value: number; wall_ms: number }>(readSql, [run.id, KEY]);
      const ms = performance.now() - t;
      if (rep >= 0) rawSamples.push(ms);
    }
    if (rawRows.length !== total) throw new Error(`raw read returned ${rawRows.length} rows, expected ${total}`);
    await h.closeRaws();

    // Baseline 2: the in-memory lttb (exported by @cairn/store) over the same points, already in JS.
    const points: SeriesPoint[] = rawRows.map((r) => ({ step: Number(r.step), value: r.value, wallMs: Number(r.wall_ms) }));
    rawRows = [];
    const lttbSamples: number[] = [];
    let inMem: SeriesPoint[] = [];
    for (let rep = -1; rep < REPS; rep++) {
      const t = performance.now();
      inMem = lttb(points, MAX_POINTS, (p) => p.step, (p) => p.value);
      const ms = performance.now() - t;
      if (rep >= 0) lttbSamples.push(ms);
    }
    const inMemKept = [...spikes].filter(([step, value]) => inMem.some((p) => p.step === step && p.value === value)).length;
    notes.push(`series: in-memory lttb over all ${formatInt(points.length)} points keeps ${inMemKept}/${spikes.size} spikes (reference)`);

    const rawMed = median(rawSamples);
    const lttbMed = median(lttbSamples);
    const label = `${formatCount(total)} → ${formatInt(MAX_POINTS)}`;
    for (const method of methods) {
      const s = summarize(samples[method]);
      rows.push({
        bench: 'series',
        engine: engine.name,
        case: `store.getMetricSeries ${method}, ${label}`,
        value: s.median,
        unit: 'ms',
        stat: `median of ${s.n}`,
        extra: `p95 ${formatMs(s.p95)}`,
        target: { op: '<=', value: SERIES_TARGET_MS },
        ratios: [
          { vs: 'raw read', value: s.median / rawMed },
          { vs: 'JS lttb', value: s.median / lttbMed },
        ],
      });
    }
    const rs = summarize(rawSamples);
    const ls = summarize(lttbSamples);
    rows.push(
      {
        bench: 'series',
        engine: engine.name,
        case: `raw read of all ${formatCount(total)} points (baseline)`,
        value: rs.median,
        unit: 'ms',
        stat: `median of ${rs.n}`,
        extra: `p95 ${formatMs(rs.p95)}`,
        baseline: true,
      },
      {
        bench: 'series',
        engine: engine.name,
        case: `in-memory lttb, ${label} (baseline)`,
        value: ls.median,
        unit: 'ms',
        stat: `median of ${ls.n}`,
        extra: `p95 ${formatMs(ls.p95)}`,
        baseline: true,
      },
    );
    return { rows, notes };
  } finally {
    await h.close().catch(() => {});
    await engine.cleanup();
  }
}
