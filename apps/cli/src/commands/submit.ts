import { Option, type Command } from 'commander';
import { TIERS, loadDefinition, type Tier } from '@cairn/engine';
import type { PipelineConfig, Submitted, TierQueues } from '@cairn/pipeline';
import { LocalBlobStore } from '@cairn/snapshot';
import { resolveLocation, type Store } from '@cairn/store';
import { globalOptions, storeOptions, withStore } from '../context.ts';
import { UsageError } from '../errors.ts';
import { formatNumber, oneLine } from '../output/format.ts';
import { colors, info, out, outJson } from '../output/io.ts';
import { parseSeconds, pipelineContext, pipelineLib, pipelineOptions, printVerdict, requireSharedStore, verdictFor, waitForRun, withQueues, type PipelineCmdOptions, type Verdict, type Waited } from '../pipeline.ts';
import { checkDataSources, paramValues, parseParam, snapshotFolder } from './run.ts';
import { dataLocation } from './data.ts';

interface SubmitCmdOptions extends PipelineCmdOptions {
  tier: Tier;
  param: string[];
  dataset?: string;
  snapshot?: string;
  data?: string;
  experiment?: string;
  wait?: boolean;
  timeout: number;
  json?: boolean;
}

/** The data options of `cairn submit` and `cairn ci`. */
export interface DataOptions {
  param: string[];
  dataset?: string;
  snapshot?: string;
  data?: string;
  experiment?: string;
}

/**
 * Queues a run of `tier` with the tier's job options (priority, attempts, backoff). A
 * folder (--data) is snapshotted first, as `cairn run` does, so the run names its bytes.
 */
export async function submitTo(cmd: Command, store: Store, queues: TierQueues, config: PipelineConfig, file: string, tier: Tier, opts: DataOptions): Promise<Submitted> {
  const loc = dataLocation(cmd);
  const blobs = new LocalBlobStore(loc.blobs);
  let snapshot = opts.snapshot;
  if (opts.data) {
    const def = (await loadDefinition(file)).definition;
    snapshot = (await snapshotFolder(store, blobs, loc, opts.data, opts.dataset, def.name, 'cairn submit')).snapshotId;
  }
  const t = config.tiers[tier];
  const { submitRun } = await pipelineLib();
  return submitRun({
    store,
    blobs,
    queues,
    file,
    tier,
    params: paramValues(opts.param),
    ...(snapshot ? { snapshot } : opts.dataset ? { dataset: opts.dataset } : {}),
    ...(opts.experiment ? { experiment: opts.experiment } : {}),
    job: { priority: t.priority, attempts: t.retry.attempts, backoffMs: t.retry.backoffMs, strategy: t.retry.strategy },
  });
}

export function requireData(opts: { dataset?: string | undefined; snapshot?: string | undefined; data?: string | undefined }): void {
  checkDataSources(opts);
  if (!opts.dataset && !opts.snapshot && !opts.data) throw new UsageError('a queued run needs its data pinned: give --data DIR, --dataset NAME or --snapshot ID');
}

export function registerSubmit(program: Command): void {
  const cmd = program
    .command('submit')
    .description('queue a training run on a tier for the workers: cairn submit train.ts --tier ci --data ./data')
    .argument('<training>', 'a TypeScript module that default-exports defineTraining({...}); checked here, then bundled with its local imports')
    .addOption(new Option('--tier <tier>', 'the tier to queue on').choices([...TIERS]).default('ci'))
    .option('-p, --param <key=value>', 'set a param (repeatable); checked against the definition before queueing', parseParam, [])
    .option('--dataset <name>', "train on this dataset's newest snapshot (pinned now, at submit time)")
    .option('--snapshot <id>', 'train on this snapshot (a unique id prefix is enough)')
    .option('--data <dir>', 'train on this folder (snapshotted first, so the run names the exact data)')
    .option('--experiment <name>', 'experiment to record the run in (default: the definition name)')
    .option('--wait', 'wait until the run ends, then print its status, reason and gate (needs PostgreSQL)')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long (0: no limit)', parseSeconds('--timeout'), 0)
    .option('--json', 'print {runId, tier, queue, codeHash, snapshotId, params} (with --wait also status, reason, gate) as JSON');
  pipelineOptions(cmd)
    .addHelpText(
      'after',
      `
The run is created 'queued' with its code bundle, data snapshot and params, then its id
goes on the tier's queue; a worker ('cairn worker') trains it. Exit status with --wait:
0 when the run finished and passed its gate (if the tier has one), 1 otherwise.

Examples:
  cairn submit examples/iris-mlp/train.ts --tier ci --data examples/iris-mlp/data
  cairn --db $DATABASE_URL submit train.ts --tier extended --dataset mnist -p lr=0.01 --wait`,
    )
    .action(async (file: string, opts: SubmitCmdOptions, c: Command) => {
      requireData(opts);
      const g = globalOptions(c);
      const location = resolveLocation(storeOptions(g));
      if (opts.wait) requireSharedStore(location, '--wait');
      const ctx = await pipelineContext(opts);
      await withQueues(ctx, async (_redis, queues) => {
        await withStore(g, async (store) => {
          const submitted = await submitTo(c, store, queues, ctx.config, file, opts.tier, opts);
          const queue = (await pipelineLib()).queueName(opts.tier, ctx.prefix);
          const workers = await queues.get(opts.tier).getWorkersCount().catch(() => null);
          if (!opts.json) {
            out(`Queued run ${colors.yellow(submitted.runId)} on tier ${opts.tier} (queue ${queue})`);
            out(`  code      bundle ${submitted.codeHash.slice(0, 12)}`);
            out(`  data      snapshot ${submitted.snapshotId.slice(0, 12)}`);
            const params = Object.entries(submitted.params).map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : typeof v === 'string' ? oneLine(v) : oneLine(JSON.stringify(v) ?? '')}`);
            if (params.length) out(`  params    ${params.join('  ')}`);
          }
          if (workers === 0) info(colors.yellow(`No worker is consuming ${queue}: start one with 'cairn worker --tiers ${opts.tier}'.`));
          if (!opts.wait) {
            if (opts.json) outJson({ runId: submitted.runId, tier: opts.tier, queue, codeHash: submitted.codeHash, snapshotId: submitted.snapshotId, params: submitted.params });
            return;
          }
          const waited = await waitForRun(store, queues, submitted.runId, opts.tier, { timeoutMs: opts.timeout * 1000 });
          const verdict = waited.timedOut || waited.jobFailure ? null : await verdictFor(store, waited.run, ctx.config, opts.tier, queues);
          if (opts.json) {
            outJson({
              runId: submitted.runId,
              tier: opts.tier,
              queue,
              codeHash: submitted.codeHash,
              snapshotId: submitted.snapshotId,
              params: submitted.params,
              status: waited.run.status,
              reason: waited.run.statusReason,
              timedOut: waited.timedOut,
              jobFailure: waited.jobFailure ?? null,
              gate: verdict?.gate ?? null,
              promoted: verdict?.promoted ?? null,
            });
          } else printEnded(waited, verdict, opts.tier, opts.timeout);
          if (!passed(waited, verdict)) process.exitCode = 1;
        });
      });
    });
}

/** Finished, and the gate (when there is one) passed. */
export function passed(waited: Waited, verdict: Verdict | null): boolean {
  return !waited.timedOut && !waited.jobFailure && waited.run.status === 'finished' && (verdict?.gate ? verdict.gate.passed : true);
}

/** What the engine logs about the training itself (progress, memory, speed), left out of the summary. */
export const ENGINE_METRICS = /^(batch_[a-z_]+|epoch|epoch_time_s|examples_per_sec|tf_memory_bytes|tf_tensors|rss_bytes|gpu_memory_bytes)$/;

/** How a waited-for run ended, with its metrics and its gate's verdict. */
export function printEnded(waited: Waited, verdict: Verdict | null, tier: Tier, timeoutS: number): void {
  const r = waited.run;
  if (waited.timedOut) {
    out(colors.yellow(`Run ${r.id} still ${r.status} after ${timeoutS} s: stopped waiting (it goes on; 'cairn cancel ${r.id}' stops it)`));
    return;
  }
  if (waited.jobFailure) {
    out(colors.red(`Run ${r.id} is still ${r.status} but its job failed for good: ${oneLine(waited.jobFailure)}`));
    return;
  }
  const style = r.status === 'finished' ? colors.green : r.status === 'failed' ? colors.red : colors.yellow;
  out(`Run ${colors.yellow(r.id)} (${r.name}) ${style(r.status)}${r.statusReason ? `: ${oneLine(r.statusReason)}` : ''}`);
  const shown = Object.values(r.metrics)
    .filter((m) => !ENGINE_METRICS.test(m.key))
    .map((m) => `${m.key}=${formatNumber(m.last)}`);
  if (shown.length) out(`  metrics   ${shown.join('  ')}`);
  if (verdict) printVerdict(tier, verdict);
  if (verdict?.promoted) out(`Promoted: queued run ${verdict.promoted}`);
}
