import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { TIERS, loadDefinition, type Tier } from '@cairn/engine';
import type { SweepSpec, SweepState, StartedSweep } from '@cairn/pipeline';
import { LocalBlobStore } from '@cairn/snapshot';
import { resolveLocation, type Store } from '@cairn/store';
import { globalOptions, storeOptions, withStore } from '../context.ts';
import { UsageError } from '../errors.ts';
import { formatNumber, oneLine, statusStyle } from '../output/format.ts';
import { colors, info, out, outJson, outputWidth } from '../output/io.ts';
import { renderTable, type Cell, type Column } from '../output/table.ts';
import { shortIds } from '../short-ids.ts';
import { parseSeconds, pipelineContext, pipelineLib, pipelineOptions, requireSharedStore, withQueues, type PipelineCmdOptions } from '../pipeline.ts';
import { dataLocation } from './data.ts';
import { paramValues, parseParam, snapshotFolder } from './run.ts';
import { requireData } from './submit.ts';

const STRATEGIES = ['grid', 'random', 'bayes', 'tpe'] as const;

interface SweepCmdOptions extends PipelineCmdOptions {
  space?: string;
  trials?: number;
  parallel: number;
  strategy: (typeof STRATEGIES)[number];
  objective?: string;
  tier: Tier;
  param: string[];
  dataset?: string;
  snapshot?: string;
  data?: string;
  seed?: number;
  policy: string[];
  experiment?: string;
  wait?: boolean;
  timeout: number;
  json?: boolean;
}

function wholeNumber(option: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${option} takes a whole number ≥ ${min}, got '${oneLine(v)}'`);
    return n;
  };
}

/** `--space`: a JSON file, or the JSON itself. */
function readSpace(arg: string): unknown {
  const text = arg.trim().startsWith('{') ? arg : readFile(arg, '--space');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`--space takes a JSON search space (a file or the JSON itself): ${(e as Error).message}`);
  }
}

function readFile(file: string, option: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`${option}: cannot read ${oneLine(file)}`);
  }
}

/** `--objective val_loss:min`, `val_acc:maximize`, or a bare metric (the definition's direction). */
function parseObjective(arg: string | undefined): { metric?: string; direction?: 'minimize' | 'maximize' } {
  if (arg === undefined) return {};
  const m = /^(.+?)(?::(min|max|minimize|maximize))?$/.exec(arg.trim());
  if (!m || !m[1]) throw new UsageError(`--objective takes METRIC[:min|max], got '${oneLine(arg)}'`);
  return { metric: m[1], ...(m[2] ? { direction: m[2].startsWith('min') ? ('minimize' as const) : ('maximize' as const) } : {}) };
}

function parsePolicies(args: string[]): unknown[] {
  return args.map((a) => {
    try {
      return JSON.parse(a) as unknown;
    } catch {
      throw new UsageError(`--policy takes a JSON object such as '{"kind":"median"}' or '{"kind":"truncation","percent":20}', got '${oneLine(a)}'`);
    }
  });
}

function describeSpace(spec: SweepSpec): string {
  return Object.entries(spec.space)
    .map(([name, p]) => {
      switch (p.type) {
        case 'choice':
          return `${name} ∈ {${p.values.map((v) => (typeof v === 'string' ? v : String(v))).join(', ')}}`;
        case 'int':
          return `${name} int ${p.min}..${p.max}${p.step && p.step !== 1 ? ` step ${p.step}` : ''}`;
        default:
          return `${name} ${p.type} ${formatNumber(p.min)}..${formatNumber(p.max)}`;
      }
    })
    .join(', ');
}

export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('run a hyperparameter sweep on the queue: a parent run plus trial runs over a search space (cairn sweep show PARENT for its leaderboard)')
    .argument('[training]', 'a TypeScript module that default-exports defineTraining({...}); checked here, then bundled once for every trial')
    .option('--space <file|json>', 'the search space: a JSON file (or the JSON itself) like {"lr": {"type": "loguniform", "min": 1e-4, "max": 0.1}}; types: choice, uniform, loguniform, int')
    .option('--trials <n>', 'trials in all (a grid defaults to, and is capped at, its size)', wholeNumber('--trials', 1))
    .option('--parallel <n>', 'trials in flight (queued or training) at most', wholeNumber('--parallel', 1), 1)
    .addOption(new Option('--strategy <name>', 'how trials are proposed: grid, random, or bayes (TPE, which learns from the trials that ended)').choices([...STRATEGIES]).default('random'))
    .option('--objective <metric[:min|max]>', "the metric the sweep optimises (default: the definition's objective)")
    .addOption(new Option('--tier <tier>', "the tier the trials run on (its subset, epochs, budget and policies)").choices([...TIERS]).default('extended'))
    .option('-p, --param <key=value>', 'a param every trial shares (repeatable); checked against the definition with each trial\'s own', parseParam, [])
    .option('--dataset <name>', "train on this dataset's newest snapshot (pinned now, for every trial)")
    .option('--snapshot <id>', 'train on this snapshot (a unique id prefix is enough)')
    .option('--data <dir>', 'train on this folder (snapshotted first, so every trial names the exact data)')
    .option('--seed <n>', 'seed for the proposals (default: a random one, recorded on the sweep)', wholeNumber('--seed', 0))
    .option(
      '--policy <json>',
      `early termination for every trial (repeatable), on top of the tier's: '{"kind":"median"}', '{"kind":"bandit","slack":0.1}', '{"kind":"truncation","percent":20}'`,
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option('--experiment <name>', 'experiment to record the sweep in (default: the definition name)')
    .option('--wait', 'wait until every trial has ended, then print the leaderboard (needs PostgreSQL)')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long (0: no limit)', parseSeconds('--timeout'), 0)
    .option('--json', 'print the sweep (with --wait also its leaderboard) as JSON');
  pipelineOptions(cmd)
    .addHelpText(
      'after',
      `
The sweep is a parent run (status running until every trial has ended) and one child run
per trial, all with the same code bundle and data snapshot; its spec is stored on the
parent, so workers carry it on after a restart. Workers ('cairn worker --tiers TIER')
train the trials; each time one ends, the next are queued, up to --parallel in flight and
--trials in all. Trials stopped early by a policy end 'abandoned' with the policy's
reason. When all have ended the parent ends 'finished' with a leaderboard note. Stop a
sweep with 'cairn cancel PARENT'. Exit status with --wait: 0 when the sweep finished, 1
otherwise.

A search space:
  {"learningRate": {"type": "loguniform", "min": 1e-5, "max": 0.1},
   "hiddenUnits":  {"type": "int", "min": 8, "max": 128, "step": 8},
   "optimizer":    {"type": "choice", "values": ["adam", "sgd"]},
   "dropout":      {"type": "uniform", "min": 0, "max": 0.5}}

Examples:
  cairn sweep examples/iris-mlp/train.ts --space space.json --trials 20 --parallel 4 --data examples/iris-mlp/data
  cairn --db $DATABASE_URL sweep train.ts --space space.json --trials 50 --parallel 8 --strategy bayes --dataset mnist --policy '{"kind":"median"}' --wait
  cairn sweep show 019a3f2c`,
    )
    .action(async (file: string | undefined, opts: SweepCmdOptions, c: Command) => {
      if (!file) throw new UsageError("cairn sweep needs a training module: cairn sweep TRAINING.ts --space space.json --trials N (or 'cairn sweep show PARENT')");
      if (!opts.space) throw new UsageError('cairn sweep needs --space: a JSON search space, as a file or inline');
      if (opts.trials === undefined && opts.strategy !== 'grid') throw new UsageError(`a ${opts.strategy} sweep needs --trials N`);
      requireData(opts);
      const space = readSpace(opts.space);
      const policies = parsePolicies(opts.policy);
      const objective = parseObjective(opts.objective);
      const g = globalOptions(c);
      const location = resolveLocation(storeOptions(g));
      if (opts.wait) requireSharedStore(location, '--wait');
      const ctx = await pipelineContext(opts);
      await withQueues(ctx, async (_redis, queues) => {
        await withStore(g, async (store) => {
          const loc = dataLocation(c);
          const blobs = new LocalBlobStore(loc.blobs);
          let snapshot = opts.snapshot;
          if (opts.data) {
            const def = (await loadDefinition(file)).definition;
            snapshot = (await snapshotFolder(store, blobs, loc, opts.data, opts.dataset, def.name, 'cairn sweep')).snapshotId;
          }
          const t = ctx.config.tiers[opts.tier];
          const lib = await pipelineLib();
          const started = await lib.startSweep({
            store,
            blobs,
            queues,
            file,
            tier: opts.tier,
            space,
            strategy: opts.strategy,
            ...(opts.trials !== undefined ? { maxTrials: opts.trials } : {}),
            parallel: opts.parallel,
            ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
            params: paramValues(opts.param),
            ...(snapshot ? { snapshot } : opts.dataset ? { dataset: opts.dataset } : {}),
            ...(opts.experiment ? { experiment: opts.experiment } : {}),
            objective,
            policies,
            job: { priority: t.priority, attempts: t.retry.attempts, backoffMs: t.retry.backoffMs, strategy: t.retry.strategy },
          });
          const queue = lib.queueName(opts.tier, ctx.prefix);
          if (!opts.json) printStarted(started, opts.tier, queue);
          const workers = await queues.get(opts.tier).getWorkersCount().catch(() => null);
          if (workers === 0) info(colors.yellow(`No worker is consuming ${queue}: start one with 'cairn worker --tiers ${opts.tier}'.`));
          if (!opts.wait) {
            if (opts.json) outJson(startedJson(started, opts.tier, queue));
            return;
          }
          const waited = await waitForSweep(store, started.parentId, { timeoutMs: opts.timeout * 1000, quiet: Boolean(opts.json) });
          if (opts.json) outJson({ ...startedJson(started, opts.tier, queue), ...stateJson(waited.state), timedOut: waited.timedOut });
          else {
            if (waited.timedOut) out(colors.yellow(`Sweep ${started.parentId} still running after ${opts.timeout} s: stopped waiting (it goes on; 'cairn cancel ${started.parentId}' stops it)`));
            await printState(store, waited.state);
          }
          if (waited.timedOut || waited.state.parent.status !== 'finished') process.exitCode = 1;
        });
      });
    });

  cmd
    .command('show')
    .description("a sweep's progress and leaderboard")
    .argument('<parent>', "the sweep's parent run (a unique id prefix is enough)")
    .option('--limit <n>', 'leaderboard rows to show (default: all)', wholeNumber('--limit', 1))
    .option('--json', 'print {parent, spec, counts, leaderboard} as JSON')
    .action(async (ref: string, opts: { limit?: number; json?: boolean }, c: Command) => {
      await withStore(globalOptions(c), async (store) => {
        const { sweepState } = await pipelineLib();
        const state = await sweepState(store, await store.resolveRunId(ref));
        if (opts.json) outJson(stateJson(state));
        else await printState(store, state, opts.limit);
      });
    });
}

function startedJson(s: StartedSweep, tier: Tier, queue: string) {
  return {
    parentId: s.parentId,
    name: s.parentName,
    tier,
    queue,
    strategy: s.spec.strategy,
    maxTrials: s.spec.maxTrials,
    parallel: s.spec.parallel,
    seed: s.spec.seed,
    objective: s.spec.objective,
    policies: s.spec.policies,
    space: s.spec.space,
    params: s.params,
    codeHash: s.codeHash,
    snapshotId: s.snapshotId,
    trials: s.trials,
  };
}

function stateJson(s: SweepState) {
  return {
    parentId: s.parent.id,
    status: s.parent.status,
    reason: s.parent.statusReason,
    spec: s.spec,
    counts: s.counts,
    complete: s.complete,
    leaderboard: s.leaderboard.map((r) => ({ rank: r.rank, trial: r.index, runId: r.runId, status: r.runStatus, value: r.value, params: r.params, reason: r.reason ?? null })),
  };
}

function printStarted(s: StartedSweep, tier: Tier, queue: string): void {
  const spec = s.spec;
  const strategy = spec.strategy.kind === 'tpe' ? 'bayes (tpe)' : spec.strategy.kind;
  out(`Sweep ${colors.yellow(s.parentId)} (${s.parentName}) started on tier ${tier} (queue ${queue})`);
  out(`  trials    ${spec.maxTrials}${s.gridSize !== null ? ` (grid of ${s.gridSize})` : ''}, ${spec.parallel} at a time, strategy ${strategy}, seed ${spec.seed}`);
  out(`  objective ${spec.objective.metric} (${spec.objective.direction})`);
  out(`  space     ${describeSpace(spec)}`);
  const fixed = Object.entries(s.params).map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : oneLine(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}`);
  if (fixed.length) out(`  params    ${fixed.join('  ')}`);
  if (spec.policies.length) out(`  policies  ${spec.policies.map((p) => JSON.stringify(p)).join(' ')}`);
  out(`  code      bundle ${s.codeHash.slice(0, 12)}`);
  out(`  data      snapshot ${s.snapshotId.slice(0, 12)}`);
  out(`  queued    ${s.trials.length} trial${s.trials.length === 1 ? '' : 's'} now; the rest as trials end`);
  out(colors.dim(`Follow it with 'cairn sweep show ${s.parentId}'; stop it with 'cairn cancel ${s.parentId}'.`));
}

/** Progress and the leaderboard, best first. */
async function printState(store: Store, s: SweepState, limit?: number): Promise<void> {
  const spec = s.spec;
  const c = s.counts;
  const tally = (['finished', 'abandoned', 'failed', 'cancelled', 'running', 'queued'] as const).filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`);
  const style = statusStyle(s.parent.status);
  out(`Sweep ${colors.yellow(s.parent.id)} (${s.parent.name}) ${style(s.parent.status)}${s.parent.statusReason ? `: ${oneLine(s.parent.statusReason)}` : ''}`);
  out(`  trials    ${s.trials.length} of ${spec.maxTrials}${tally.length ? ` (${tally.join(', ')})` : ''}, ${spec.parallel} at a time, strategy ${spec.strategy.kind === 'tpe' ? 'bayes (tpe)' : spec.strategy.kind}`);
  out(`  objective ${spec.objective.metric} (${spec.objective.direction})`);
  out(`  space     ${describeSpace(spec)}`);
  if (!s.leaderboard.length) return;
  out('');
  const names = Object.keys(spec.space);
  const columns: Column[] = [
    { header: 'RANK', align: 'right' },
    { header: 'TRIAL', align: 'right' },
    { header: 'RUN' },
    { header: 'STATUS' },
    { header: spec.objective.metric.toUpperCase(), align: 'right' },
    ...names.map((n): Column => ({ header: n, align: 'right', max: 24 })),
    { header: 'REASON', min: 10, max: 80 },
  ];
  const shown = s.leaderboard.slice(0, limit ?? s.leaderboard.length);
  const ids = await shortIds(store, shown.map((r) => r.runId));
  const rows = shown.map((r): Cell[] => [
    String(r.rank),
    String(r.index),
    ids.get(r.runId) ?? r.runId,
    { text: r.runStatus, style: statusStyle(r.runStatus) },
    Number.isFinite(r.value) ? formatNumber(r.value) : '–',
    ...names.map((n) => {
      const v = r.params[n];
      return typeof v === 'number' ? formatNumber(v) : String(v ?? '');
    }),
    r.reason ? oneLine(r.reason) : '',
  ]);
  out(renderTable(columns, rows, { width: outputWidth() }));
  if (limit !== undefined && s.leaderboard.length > limit) out(colors.dim(`… ${s.leaderboard.length - limit} more (--limit)`));
}

/** Polls the sweep until its parent ends (every 2 s), printing progress to stderr as trials end. */
async function waitForSweep(store: Store, parentId: string, options: { timeoutMs: number; quiet: boolean }): Promise<{ state: SweepState; timedOut: boolean }> {
  const { sweepState } = await pipelineLib();
  const deadline = options.timeoutMs > 0 ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
  let last = '';
  for (;;) {
    const state = await sweepState(store, parentId);
    const c = state.counts;
    const endedCount = c.finished + c.abandoned + c.failed + c.cancelled;
    const best = state.leaderboard.find((r) => Number.isFinite(r.value) && r.status !== 'failed' && r.status !== 'queued');
    const line = `sweep ${parentId}: ${endedCount}/${state.spec.maxTrials} trials ended (${c.finished} finished, ${c.abandoned} abandoned${c.failed ? `, ${c.failed} failed` : ''}), ${c.queued + c.running} in flight${best ? `; best ${state.spec.objective.metric} ${formatNumber(best.value)} (trial ${best.index})` : ''}`;
    if (line !== last && !options.quiet) info(colors.dim(line));
    last = line;
    if (state.parent.status !== 'running' && state.parent.status !== 'queued') return { state, timedOut: false };
    if (Date.now() >= deadline) return { state, timedOut: true };
    await new Promise((r) => setTimeout(r, Math.min(2_000, Math.max(0, deadline - Date.now()))));
  }
}
