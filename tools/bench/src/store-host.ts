import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostEmbeddedStore, openStore, type MetricPoint, type Store } from '@cairn/store';
import { progress, prng, type BenchContext, type BenchResult } from './context.ts';
import type { ResultRow } from './report.ts';
import { formatInt, formatRate, median } from './stats.ts';

/**
 * store-host: metric points per second through Store.logMetrics into the embedded
 * store shared by a hosting process (hostEmbeddedStore: PGlite served over the
 * PostgreSQL wire protocol; the clients are other processes on `pg`), against the same
 * writes into PGlite in this process, the baseline. Every case writes the same number
 * of points in batches of 10,000 (1,000 steps × 10 keys), as training processes do.
 */
const KEYS = ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'grad_norm', 'throughput', 'epoch', 'precision', 'recall'];
const BATCH = 10_000;
const REPS = 3;
const CLIENT = fileURLToPath(new URL('./fixtures/store-host/client.ts', import.meta.url));

interface Case {
  label: string;
  /** Client processes (0: in this process, on PGlite directly). */
  processes: number;
  /** Runs written concurrently by each process. */
  writers: number;
}

export async function storeHostBench(ctx: BenchContext): Promise<BenchResult> {
  const total = ctx.quick ? 60_000 : 600_000;
  const cases: Case[] = [
    { label: 'in process: PGlite, 3 writers', processes: 0, writers: 3 },
    { label: 'host: 1 client process, 3 writers', processes: 1, writers: 3 },
    { label: 'host: 3 client processes, 1 writer each', processes: 3, writers: 1 },
  ];
  const notes: string[] = [`${formatInt(total)} points per repetition in batches of ${formatInt(BATCH)}; median of ${REPS}; client start-up and batch generation untimed`];
  const rates = new Map<string, number[]>();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-bench-host-'));
  try {
    // Baseline: PGlite in this process, nothing served.
    const localHome = path.join(tmp, 'local');
    const local = await openStore({ home: localHome });
    try {
      const c = cases[0]!;
      for (let rep = 0; rep < REPS; rep++) {
        const rate = await inProcessRep(local, c.writers, total / c.writers / BATCH, rep);
        progress(`store-host ${c.label}: ${formatRate(rate)}`);
        (rates.get(c.label) ?? rates.set(c.label, []).get(c.label)!).push(rate);
      }
    } finally {
      await local.close();
    }

    // Hosted: this process hosts; clients in other processes.
    const home = path.join(tmp, 'hosted');
    const hosted = await hostEmbeddedStore({ home });
    try {
      for (const c of cases.slice(1)) {
        for (let rep = 0; rep < REPS; rep++) {
          const rate = await clientsRep(home, hosted.store, c, total / (c.processes * c.writers) / BATCH, rep);
          progress(`store-host ${c.label}: ${formatRate(rate)}`);
          (rates.get(c.label) ?? rates.set(c.label, []).get(c.label)!).push(rate);
        }
      }
    } finally {
      await hosted.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const baseline = median(rates.get(cases[0]!.label)!);
  const rows: ResultRow[] = cases.map((c, i) => {
    const value = median(rates.get(c.label)!);
    return {
      bench: 'store-host',
      engine: 'pglite',
      case: c.label,
      value,
      unit: 'pts/s',
      stat: `median of ${REPS}`,
      extra: `runs ${rates.get(c.label)!.map((r) => formatRate(r)).join(', ')}`,
      ...(i === 0 ? { baseline: true } : { ratios: [{ vs: 'in process', value: value / baseline }] }),
    };
  });
  return { rows, notes };
}

function batchesFor(batches: number, seed: number): MetricPoint[][] {
  const rnd = prng(seed);
  return Array.from({ length: batches }, (_, b) => {
    const pts: MetricPoint[] = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      const step = b * (BATCH / KEYS.length) + Math.floor(i / KEYS.length);
      pts[i] = { key: KEYS[i % KEYS.length]!, step, value: Math.exp(-step / 20_000) + rnd() * 0.01, wallMs: 1_700_000_000_000 + step * 50 };
    }
    return pts;
  });
}

async function inProcessRep(store: Store, writers: number, batches: number, rep: number): Promise<number> {
  const experiment = await store.ensureExperiment({ name: 'store-host bench' });
  const runs = await Promise.all(Array.from({ length: writers }, () => store.createRun({ experimentId: experiment.id })));
  const work = runs.map((_, w) => batchesFor(batches, rep * 100 + w));
  const t = performance.now();
  await Promise.all(runs.map(async (run, w) => {
    for (const pts of work[w]!) await store.logMetrics(run.id, pts);
  }));
  const s = (performance.now() - t) / 1000;
  await checkCounts(store, runs.map((r) => r.id), batches * BATCH);
  return (writers * batches * BATCH) / s;
}

async function clientsRep(home: string, store: Store, c: Case, batches: number, rep: number): Promise<number> {
  const children: ChildProcess[] = [];
  try {
    const ready = await Promise.all(
      Array.from({ length: c.processes }, (_, p) => {
        const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, home, String(c.writers), String(batches), String(BATCH), String(rep * 100 + p + 1)], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        children.push(child);
        return untilLine(child, /^ready (\S+) (.+)$/);
      }),
    );
    const runIds = ready.flatMap((m) => m[2]!.split(' '));
    if (ready.some((m) => m[1] !== 'pglite')) throw new Error(`a client did not open the embedded store: ${ready.map((m) => m[0]).join('; ')}`);
    const done = children.map((child) => untilLine(child, /^done$/));
    const t = performance.now();
    for (const child of children) child.stdin!.write('go\n');
    await Promise.all(done);
    const s = (performance.now() - t) / 1000;
    await checkCounts(store, runIds, batches * BATCH);
    return (runIds.length * batches * BATCH) / s;
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

function untilLine(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      for (const line of text.split('\n')) {
        const m = re.exec(line);
        if (m) {
          child.stdout!.off('data', onData);
          return resolve(m);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`store-host client exited with ${code} before printing ${re}`)));
  });
}

/** Untimed: every point landed once. */
async function checkCounts(store: Store, runIds: string[], expected: number): Promise<void> {
  for (const id of runIds) {
    const n = Object.values(await store.getMetricSummaries(id)).reduce((a, m) => a + m.count, 0);
    if (n !== expected) throw new Error(`run ${id}: ${n} points stored, expected ${expected}`);
  }
}
