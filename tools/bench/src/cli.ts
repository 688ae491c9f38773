import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type Store } from '@cairn/store';
import { testPostgres } from '@cairn/store/testing';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import type { ResultRow } from './report.ts';
import { formatMs, median } from './stats.ts';

/**
 * cli: the `cairn` command's start-up, as whole processes, each figure the median of N
 * runs next to `node -e 0` measured in the same run. The cases are interleaved (one run of
 * each, N times) so a burst of load on a shared machine hits them alike.
 *
 * `cairn` is the workspace bin (node_modules/.bin/cairn → apps/cli/bin/cairn.js), which
 * compiles the CLI's TypeScript with tsx on load; `node --import tsx -e 0` shows what tsx
 * alone costs. The embedded target's reference is opening the same existing store and
 * closing it in a process of its own (openStore({ home }), through tsx as the store is
 * TypeScript source); PGlite.create on its data directory in bare node is shown beside it.
 */
export const CLI_TARGETS = {
  /** `cairn --version` and `cairn --help`, as a multiple of `node -e 0`. */
  versionHelpRatio: 2,
  /** `cairn runs list` on PostgreSQL. */
  postgresListMs: 500,
  /** `cairn runs list` on the embedded store, over opening that store alone. */
  embeddedOverOpenMs: 300,
} as const;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'apps/cli/bin/cairn.js');
const RUNS = 5;

interface Case {
  id: string;
  label: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Checked on the first run: a case that does not do its work is not timed. */
  expect?: RegExp;
}

interface Exit {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The child's environment: no store from the caller's shell, no colour. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.FORCE_COLOR;
  if (!('DATABASE_URL' in extra)) delete env.DATABASE_URL;
  if (!('CAIRN_HOME' in extra)) delete env.CAIRN_HOME;
  return env;
}

/** Runs a process to its exit; the time is from spawn to exit, output included. */
function timeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ ms: performance.now() - t, code, stdout, stderr }));
  });
}

async function seedRuns(store: Store): Promise<void> {
  const exp = await store.createExperiment({ name: 'bench-cli' });
  for (let i = 0; i < RUNS; i++) {
    const run = await store.createRun({ experimentId: exp.id, name: `run-${i}`, params: { lr: 0.001 * (i + 1) } });
    await store.logMetrics(run.id, [0, 1, 2].map((step) => ({ key: 'acc', value: 0.5 + 0.1 * step + 0.01 * i, step })));
  }
}

export async function cliBench(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 3 : 10;
  const notes: string[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-bench-cli-'));
  const home = path.join(tmp, 'home');
  let pg: { url: string; drop(): Promise<void> } | undefined;
  try {
    progress(`cli: cairn init and ${RUNS} runs in a fresh CAIRN_HOME`);
    const init = await timeProcess([BIN, 'init'], childEnv({ CAIRN_HOME: home }));
    if (init.code !== 0) throw new Error(`cairn init failed (${init.code}): ${init.stderr}`);
    const embedded = await openStore({ home });
    try {
      await seedRuns(embedded);
    } finally {
      await embedded.close();
    }
    if (process.env.DATABASE_URL) {
      progress(`cli: a fresh PostgreSQL database with ${RUNS} runs`);
      pg = await testPostgres();
      const store = await openStore({ url: pg.url });
      try {
        await seedRuns(store);
      } finally {
        await store.close();
      }
    } else {
      notes.push('cairn runs list on PostgreSQL: skipped, DATABASE_URL is not set');
    }

    const listed = /run-4/;
    const cases: Case[] = [
      { id: 'node', label: 'node -e 0', args: ['-e', '0'] },
      { id: 'tsx', label: 'node --import tsx -e 0', args: ['--import', 'tsx', '-e', '0'] },
      { id: 'version', label: 'cairn --version', args: [BIN, '--version'], expect: /^\d+\.\d+\.\d+\n$/ },
      { id: 'help', label: 'cairn --help', args: [BIN, '--help'], expect: /^Usage: cairn/ },
      { id: 'list-embedded', label: `cairn runs list (embedded, ${RUNS} runs)`, args: [BIN, 'runs', 'list'], env: { CAIRN_HOME: home }, expect: listed },
      ...(pg ? [{ id: 'list-postgres', label: `cairn runs list (PostgreSQL, ${RUNS} runs)`, args: [BIN, '--db', pg.url, 'runs', 'list'], expect: listed }] : []),
      {
        id: 'open-store',
        label: 'openStore({ home }) + close (tsx)',
        args: ['--import', 'tsx', '--input-type=module', '-e', `import { openStore } from '@cairn/store'; await (await openStore({ home: process.argv[1] })).close();`, home],
      },
      {
        id: 'open-pglite',
        label: 'PGlite.create(<home>/db) + close (bare node)',
        args: ['--input-type=module', '-e', `import { PGlite } from '@electric-sql/pglite'; await (await PGlite.create(process.argv[1])).close();`, path.join(home, 'db')],
      },
    ];

    const samples = new Map<string, number[]>(cases.map((c) => [c.id, []]));
    for (let round = 0; round < n; round++) {
      progress(`cli: round ${round + 1} of ${n}`);
      for (const c of cases) {
        const r = await timeProcess(c.args, childEnv(c.env));
        if (r.code !== 0 || (round === 0 && c.expect && !c.expect.test(r.stdout))) {
          throw new Error(`${c.label} did not do its work (exit ${r.code}): ${(r.stderr || r.stdout).slice(-500)}`);
        }
        samples.get(c.id)!.push(r.ms);
      }
    }

    const med = (id: string) => median(samples.get(id)!);
    const base = med('node');
    const ref = med('open-store');
    const row = (id: string, extra: Partial<ResultRow> = {}): ResultRow => {
      const c = cases.find((x) => x.id === id)!;
      const value = med(id);
      return {
        bench: 'cli',
        engine: id === 'list-postgres' ? 'postgres' : id === 'list-embedded' || id.startsWith('open-') ? 'pglite' : 'node',
        case: c.label,
        value,
        unit: 'ms',
        stat: `median of ${n}`,
        extra: `min ${formatMs(Math.min(...samples.get(id)!))}`,
        ratios: id === 'node' ? [] : [{ vs: 'node -e 0', value: value / base }],
        ...extra,
      };
    };
    const rows: ResultRow[] = [
      row('node', { baseline: true }),
      row('tsx'),
      row('version', { target: { op: '<=', value: CLI_TARGETS.versionHelpRatio * base } }),
      row('help', { target: { op: '<=', value: CLI_TARGETS.versionHelpRatio * base } }),
      row('open-store', { baseline: true }),
      row('open-pglite'),
      row('list-embedded', {
        target: { op: '<=', value: ref + CLI_TARGETS.embeddedOverOpenMs },
        ratios: [
          { vs: 'node -e 0', value: med('list-embedded') / base },
          { vs: 'openStore', value: med('list-embedded') / ref },
        ],
      }),
      ...(pg ? [row('list-postgres', { target: { op: '<=', value: CLI_TARGETS.postgresListMs } })] : []),
    ];
    notes.push(
      `targets: --version and --help ≤ ${CLI_TARGETS.versionHelpRatio}x node -e 0 (${formatMs(CLI_TARGETS.versionHelpRatio * base)} here); ` +
        `runs list on PostgreSQL ≤ ${formatMs(CLI_TARGETS.postgresListMs)}; embedded ≤ openStore's open + ${formatMs(CLI_TARGETS.embeddedOverOpenMs)} (${formatMs(ref + CLI_TARGETS.embeddedOverOpenMs)} here)`,
      `tsx alone (node --import tsx -e 0) costs ${formatMs(med('tsx') - base)} over node -e 0, ${(med('tsx') / base).toFixed(1)}x it` +
        (med('tsx') > CLI_TARGETS.versionHelpRatio * base
          ? `: more than the ${CLI_TARGETS.versionHelpRatio}x target by itself, so --version and --help can meet it only without tsx at run time (a compiled CLI)`
          : ''),
      `load average at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} on ${os.cpus().length} cores`,
    );
    return { rows, notes };
  } finally {
    await pg?.drop().catch((e: unknown) => notes.push(`dropping the PostgreSQL database failed: ${String(e)}`));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
