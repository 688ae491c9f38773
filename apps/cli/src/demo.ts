import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Tier } from '@cairn/engine';
import { LocalBlobStore } from '@cairn/snapshot';
import type { RunDetail, Store } from '@cairn/store';
import { dataLocation } from './commands/data.ts';
import { snapshotFolder, trainInline } from './commands/run.ts';
import { formatNumber } from './output/format.ts';
import { pipelineLib, type PipelineContext } from './pipeline.ts';
import type { Services } from './services.ts';
import { cliConfig } from './config.ts';

/** The checkout's root: the examples, and the node_modules a worker's code bundles import from. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const example = (...p: string[]) => path.join(REPO_ROOT, 'examples', ...p);

export const DEMO_EXAMPLES = [
  { name: 'iris-mlp', dataset: 'iris', file: example('iris-mlp', 'train.ts'), data: example('iris-mlp', 'data') },
  { name: 'digits-cnn', dataset: 'digits', file: example('digits-cnn', 'train.ts'), data: example('digits-cnn', 'data') },
] as const;

/** A small random sweep whose early terminations show what the median-stopping policy abandons. */
export const DEMO_SWEEP = {
  space: {
    learningRate: { type: 'loguniform', min: 0.0005, max: 0.3 },
    hiddenUnits: { type: 'choice', values: [4, 8, 16, 32] },
    dropout: { type: 'uniform', min: 0, max: 0.5 },
  },
  trials: 8,
  parallel: 2,
  policies: [{ kind: 'median', minEvaluations: 5 }],
} as const;

export const DEMO_MODEL = { name: 'iris-mlp', alias: 'production' } as const;

export interface DemoSummary {
  mode: 'queue' | 'inline';
  datasets: { name: string; snapshotId: string }[];
  ci: { example: string; runId: string; status: string; reason: string | null }[];
  sweep: { parentId: string; counts: Record<string, number>; bestRunId: string | null; bestValue: number | null } | { skipped: string };
  quickstart: { exitCode: number | null };
  model: { name: string; version: number; alias: string; runId: string } | { skipped: string };
}

const ENDED = new Set(['finished', 'failed', 'abandoned', 'cancelled']);

async function waitEnded(store: Store, runId: string, timeoutMs: number): Promise<RunDetail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await store.getRun(runId);
    if (ENDED.has(run.status) || Date.now() > deadline) return run;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Everything `cairn demo` records, on the services given: the example datasets
 * snapshotted, the ci tier of both examples (through the queue and an in-process worker
 * when Redis is there, inline otherwise), a small sweep with early terminations (queue
 * only: sweeps are queue work), the quick-start script's runs (one abandoned, one failed),
 * and the best Iris model registered and aliased `production`.
 */
export async function recordDemo(cmd: Command, services: Services, ctx: PipelineContext, log: (line: string) => void): Promise<DemoSummary> {
  const { store } = services;
  const loc = dataLocation(cmd);
  const blobs = new LocalBlobStore(loc.blobs);
  const mode = services.redis ? 'queue' : 'inline';
  const summary: DemoSummary = { mode, datasets: [], ci: [], sweep: { skipped: '' }, quickstart: { exitCode: null }, model: { skipped: '' } };

  log('1. Snapshotting the example datasets');
  for (const ex of DEMO_EXAMPLES) {
    const snap = await snapshotFolder(store, blobs, loc, ex.data, ex.dataset, ex.name, 'cairn demo');
    summary.datasets.push({ name: ex.dataset, snapshotId: snap.snapshotId });
    log(`   ${ex.dataset.padEnd(8)} ${snap.snapshotId.slice(0, 12)}`);
  }

  const quickstart = runQuickstart(services.storeUrl);

  if (services.redis) {
    const { startWorker } = await pipelineLib();
    const lib = await pipelineLib();
    // The in-process worker takes the ci tier only: runs whose ci gate passes are promoted
    // and wait on the extended queue, where the portal shows them (and can cancel them).
    const worker = await startWorker({
      // The Redis the services found or started (a private one included).
      environment: { ...cliConfig(), redisUrl: services.redis.url },
      tiers: ['ci'],
      concurrency: 2,
      cwd: REPO_ROOT,
      store: { url: services.storeUrl },
      blobs: loc.blobs,
      queuePrefix: ctx.prefix,
      log: (line) => log(`   worker: ${line.replace(/^\S+ /, '')}`),
    });
    try {
      log(`2. Queueing the ci tier of both examples (worker ${worker.id} trains them)`);
      const job = (tier: Tier) => {
        const t = ctx.config.tiers[tier];
        return { priority: t.priority, attempts: t.retry.attempts, backoffMs: t.retry.backoffMs, strategy: t.retry.strategy };
      };
      const submitted = [];
      for (const ex of DEMO_EXAMPLES) {
        const s = await lib.submitRun({ store, blobs, queues: services.redis.queues, file: ex.file, tier: 'ci', dataset: ex.dataset, job: job('ci') });
        submitted.push({ ex, runId: s.runId });
      }
      log(`3. Sweeping Iris: ${DEMO_SWEEP.trials} random trials, ${DEMO_SWEEP.parallel} at a time, median stopping`);
      const sweep = await lib.startSweep({
        store,
        blobs,
        queues: services.redis.queues,
        file: DEMO_EXAMPLES[0].file,
        tier: 'ci',
        space: DEMO_SWEEP.space,
        strategy: 'random',
        maxTrials: DEMO_SWEEP.trials,
        parallel: DEMO_SWEEP.parallel,
        seed: 7,
        dataset: DEMO_EXAMPLES[0].dataset,
        experiment: 'iris-sweep',
        policies: [...DEMO_SWEEP.policies],
        job: job('ci'),
      });
      for (const s of submitted) {
        const run = await waitEnded(store, s.runId, 15 * 60_000);
        summary.ci.push({ example: s.ex.name, runId: run.id, status: run.status, reason: run.statusReason });
        log(`   ${s.ex.name.padEnd(10)} ${run.name} ${run.status}${run.statusReason ? ` (${run.statusReason})` : ''}`);
      }
      const parent = await waitEnded(store, sweep.parentId, 15 * 60_000);
      const state = await lib.sweepState(store, parent.id);
      const best = state.leaderboard[0] ?? null;
      summary.sweep = { parentId: parent.id, counts: { ...state.counts }, bestRunId: best?.runId ?? null, bestValue: best && Number.isFinite(best.value) ? best.value : null };
      log(`   sweep ${parent.name} ${parent.status}: ${Object.entries(state.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')}`);
    } finally {
      await worker.close();
    }
  } else {
    log(`2. Training the ci tier of both examples inline (${services.noRedis}; sweeps need the queues, so there is no sweep)`);
    for (const ex of DEMO_EXAMPLES) {
      const r = await trainInline(cmd, ex.file, { param: [], tier: 'ci', dataset: ex.dataset, checkpointEvery: 1, policy: [] }, { config: ctx.config }, async (s, run) => s.getRun(run.runId));
      summary.ci.push({ example: ex.name, runId: r.id, status: r.status, reason: r.statusReason });
      log(`   ${ex.name.padEnd(10)} ${r.name} ${r.status}`);
    }
    summary.sweep = { skipped: services.noRedis ?? 'no Redis' };
  }

  summary.quickstart.exitCode = await quickstart;
  log(`4. Quick start: a tracked learning-rate sweep (one run abandoned, one diverged and failed)${summary.quickstart.exitCode ? ` — exited ${summary.quickstart.exitCode}` : ''}`);

  summary.model = await registerBest(store, blobs, summary, log);
  return summary;
}

/** The quick-start script in its own process, on this store: plain tracking-client runs. */
function runQuickstart(storeUrl: string): Promise<number | null> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: storeUrl };
    delete env.CAIRN_HOME;
    const child = spawn(process.execPath, ['--import', 'tsx', example('quickstart', 'train.ts')], { cwd: REPO_ROOT, env, stdio: 'ignore' });
    child.on('error', () => resolve(null));
    child.on('exit', (code) => resolve(code));
  });
}

async function registerBest(store: Store, blobs: LocalBlobStore, summary: DemoSummary, log: (line: string) => void): Promise<DemoSummary['model']> {
  const candidates = [...(('bestRunId' in summary.sweep && summary.sweep.bestRunId) ? [summary.sweep.bestRunId] : []), ...summary.ci.filter((c) => c.example === 'iris-mlp').map((c) => c.runId)];
  const { registerRunModel } = await import('@cairn/models');
  let best: { run: RunDetail; value: number } | null = null;
  for (const id of candidates) {
    const run = await store.getRun(id);
    const value = run.metrics.val_acc?.last;
    if (run.status === 'finished' && value !== undefined && (!best || value > best.value)) best = { run, value };
  }
  if (!best) {
    log('5. No finished Iris run to register');
    return { skipped: 'no finished Iris run' };
  }
  const version = await registerRunModel({ store, blobs, runId: best.run.id, name: DEMO_MODEL.name, description: `registered by cairn demo: the best Iris run (val_acc ${formatNumber(best.value, 4)})` });
  await store.setModelAlias(DEMO_MODEL.name, DEMO_MODEL.alias, version.version);
  log(`5. Registered ${DEMO_MODEL.name} v${version.version} from ${best.run.name} (val_acc ${formatNumber(best.value, 4)}) as ${DEMO_MODEL.name}@${DEMO_MODEL.alias}`);
  return { name: DEMO_MODEL.name, version: version.version, alias: DEMO_MODEL.alias, runId: best.run.id };
}
