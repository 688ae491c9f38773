/**
 * Cairn store benchmarks.
 *
 *   npm run bench -- [ingest|search|series|snapshot|engine|pipeline|portal|serve|cli|all …] [--engine pglite|postgres|both] [--json [--out file]] [--quick] [--explain] [--strict] [--big]
 *
 * Every figure is printed next to a baseline measured in the same process and run,
 * and as a ratio to it: absolute numbers from a shared, noisy machine mean little alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchContext, BenchResult } from './context.ts';
import { DEFAULT_DATABASE_URL, benchEngine, interrupted, probePglite, probePostgres, type BenchEngine } from './engines.ts';
import { cliBench } from './cli.ts';
import { engineBench } from './engine.ts';
import { nativeBench } from './engine-native.ts';
import { ingestBench } from './ingest.ts';
import { trainersBench } from './trainers.ts';
import { pipelineBench } from './pipeline.ts';
import { portalBench } from './portal.ts';
import { serveBench } from './serve.ts';
import { searchBench } from './search.ts';
import { seriesBench } from './series.ts';
import { snapshotBench } from './snapshot.ts';
import { storeHostBench } from './store-host.ts';
import { Report, formatRows, header, machineInfo, passes, type EngineName, type ResultRow } from './report.ts';
import { redactUrl } from '@cairn/store';

type BenchFn = (engine: BenchEngine, ctx: BenchContext) => Promise<BenchResult>;
/** A benchmark that needs no database: it runs once, not once per engine. */
type LocalBenchFn = (ctx: BenchContext & { big: boolean }) => Promise<BenchResult>;

const LOCAL_BENCHES: Record<string, { what: string; run: LocalBenchFn }> = {
  snapshot: { what: '@cairn/snapshot hashing, snapshotDir, chunking and checkout vs b3sum/md5sum/cat/cp', run: snapshotBench },
  engine: { what: '@cairn/engine training ex/s per tfjs backend and native-cpu (MLP, CNN) vs PyTorch, and tracking overhead of a fit', run: engineBench },
  native: { what: 'native-cpu training ex/s (MLP, CNN) vs PyTorch at 1 thread and at every core (the native rows of engine, alone)', run: nativeBench },
  trainers: { what: 'the examples through runTraining on each usable trainer: final val_acc vs tfjs (mean of 3 seeds), whole-run time, and a tracked run vs a no-op Reporter on the best trainer', run: trainersBench },
  serve: { what: 'cairn serve POST /predict latency and throughput (Iris MLP, autocannon in another process) vs a minimal http server calling model.predict', run: serveBench },
  cli: { what: 'the cairn command\'s start-up as whole processes (--version, --help, runs list on the embedded store and PostgreSQL) vs node -e 0 and opening the store alone', run: cliBench },
  'store-host': { what: 'embedded store shared by a hosting process: Store.logMetrics points/s from client processes over the wire protocol vs PGlite in process', run: storeHostBench },
};

const BENCHES: Record<string, { what: string; run: BenchFn }> = {
  ingest: { what: 'Store.logMetrics points/s vs raw COPY of the same rows', run: ingestBench },
  search: { what: 'Store.searchRuns latency over 100k runs vs unfiltered listing', run: searchBench },
  series: { what: 'Store.getMetricSeries of 1M points to 2,000 vs raw read and in-memory LTTB', run: seriesBench },
  pipeline: { what: '@cairn/pipeline enqueue-to-start latency, empty-job throughput and 1,000-trial sweep enqueue vs raw BullMQ (REDIS_URL), and per-job overhead submit → training', run: pipelineBench },
  portal: { what: 'web portal in headless chromium over 100k runs (PostgreSQL only): runs page first paint, filter change, compare of 10 runs × 10k steps and its long tasks', run: portalBench },
};

const USAGE = `usage: npm run bench -- [${[...Object.keys(BENCHES), ...Object.keys(LOCAL_BENCHES)].join('|')}|all …] [options]

  --engine pglite|postgres|both   engines to run (default both); postgres uses DATABASE_URL,
                                  default ${DEFAULT_DATABASE_URL}
  --json                          also write the results as JSON (see --out)
  --out FILE                      where --json writes (default tools/bench/results/bench-<time>.json)
  --quick                         smaller workloads, a smoke test: figures are not comparable with the targets
  --explain                       print EXPLAIN ANALYZE of the search queries
  --big                           snapshot: also the 1,000,000-file case (creating the files takes minutes)
  --strict                        exit with status 1 when a target is missed
  -h, --help                      this text`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        engine: { type: 'string', default: 'both' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        quick: { type: 'boolean', default: false },
        explain: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        big: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: opts, positionals } = args;
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const all = [...Object.keys(BENCHES), ...Object.keys(LOCAL_BENCHES)];
  const names = positionals.length === 0 || positionals.includes('all') ? all : positionals;
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.map((n) => `'${n}'`).join(', ')}\n\n${USAGE}`);
    return 2;
  }
  const engineOpt = opts.engine;
  if (!['pglite', 'postgres', 'both'].includes(engineOpt)) {
    console.error(`--engine must be pglite, postgres or both, not '${engineOpt}'\n\n${USAGE}`);
    return 2;
  }
  const wanted: EngineName[] = engineOpt === 'both' ? ['pglite', 'postgres'] : [engineOpt as EngineName];

  const report = new Report();
  const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const versions: Partial<Record<EngineName, string>> = {};
  const engines: BenchEngine[] = [];
  const unreachable: string[] = [];
  // Only the database benchmarks need engines; `snapshot` alone starts none.
  for (const name of names.some((n) => n in BENCHES) ? wanted : []) {
    try {
      versions[name] = name === 'postgres' ? await probePostgres(url) : await probePglite();
      engines.push(benchEngine(name, versions[name]!, url));
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const why = `cannot reach PostgreSQL at ${redactUrl(url)} (${err.code ?? err.message ?? String(e)}); start it or set DATABASE_URL`;
      if (name !== 'postgres') throw e;
      unreachable.push(why);
      console.log(`postgres: skipped: ${why}`);
    }
  }
  const info = machineInfo(versions);
  const ctx: BenchContext = { quick: opts.quick, explain: opts.explain };
  if (opts.quick) console.log('QUICK MODE: reduced workloads; the figures are a smoke test, not comparable with the targets.');

  let errors = 0;
  try {
    for (const name of names) {
      const local = LOCAL_BENCHES[name];
      if (local) {
        console.log(`\n${header(name, opts.quick ? `${local.what} [QUICK: reduced workload]` : local.what, { ...info, engines: {} })}`);
        const t = performance.now();
        try {
          const r = await local.run({ ...ctx, big: opts.big });
          report.add(...r.rows);
          if (r.rows.length) console.log(formatRows(r.rows));
          for (const n of r.notes) report.log(name, `  - ${n}`);
        } catch (e) {
          errors++;
          report.log(name, `  - ERROR: ${(e as Error).stack ?? String(e)}`);
        }
        process.stderr.write(`  … ${name} took ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
        continue;
      }
      const bench = BENCHES[name]!;
      console.log(`\n${header(name, opts.quick ? `${bench.what} [QUICK: reduced workload]` : bench.what, info)}`);
      for (const why of unreachable) report.skip(name, 'postgres', why);
      const rows: ResultRow[] = [];
      const notes: string[] = [];
      for (const engine of engines) {
        const t = performance.now();
        try {
          const r = await bench.run(engine, ctx);
          rows.push(...r.rows);
          notes.push(...r.notes.map((n) => `${engine.name}: ${n}`));
        } catch (e) {
          if (interrupted()) break;
          errors++;
          notes.push(`${engine.name}: ERROR: ${(e as Error).stack ?? String(e)}`);
        } finally {
          await engine.cleanup().catch((e: unknown) => notes.push(`${engine.name}: cleanup failed: ${String(e)}`));
        }
        process.stderr.write(`  … ${name}/${engine.name} took ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
      }
      if (interrupted()) break;
      report.add(...rows);
      if (rows.length) console.log(formatRows(rows));
      for (const n of notes) report.log(name, `  - ${n}`);
    }
  } finally {
    for (const e of engines) await e.cleanup().catch(() => {});
  }

  if (interrupted()) return 130;
  console.log(`\n${report.summary()}${errors ? `; ${errors} benchmark(s) failed with an error` : ''}`);
  if (opts.json) {
    const out = opts.out
      ? path.resolve(opts.out)
      : fileURLToPath(new URL(`../results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(report.toJSON(info, process.argv.slice(2)), null, 2)}\n`);
    console.log(`results written to ${out}`);
  }
  if (errors) return 1;
  return opts.strict && report.rows.some((r) => passes(r) === false) ? 1 : 0;
}

process.exitCode = await main();
