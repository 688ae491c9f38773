import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { NotFoundError, nameSchema } from '@cairn/schema';
import { BACKENDS, KNOWN_TRAINERS, TIERS, loadDefinition, loadTrainerModules, parsePolicySpecs, quietTfjs, resolveParams, runTraining, type BackendName, type CheckpointRef, type PeerCurve, type PolicySpec, type Reporter, type RunOutcome, type Tier } from '@cairn/engine';
import type { PipelineConfig } from '@cairn/pipeline';
import { LocalBlobStore, checkout, snapshotDir } from '@cairn/snapshot';
import { openStore, type Store } from '@cairn/store';
import { startRun } from '@cairn/tracking';
import { assertStoreExists, globalOptions, storeOptions } from '../context.ts';
import { UsageError } from '../errors.ts';
import { formatDuration, formatNumber, oneLine } from '../output/format.ts';
import { colors, info, out, outJson } from '../output/io.ts';
import { pipelineLib } from '../pipeline.ts';
import { dataLocation } from './data.ts';
import { trainingSettings } from '../config.ts';

interface RunCmdOptions extends InlineOptions {
  config?: string;
  json?: boolean;
}

/** Earlier runs compared against by median stopping and bandit policies. */
const MAX_PEERS = 50;

/** `--param k=v`: numbers and booleans are typed; everything else stays text (the definition's zod schema has the last word). */
export function parseParam(arg: string, acc: string[] = []): string[] {
  if (!/^[A-Za-z_][\w.-]*=/.test(arg)) throw new UsageError(`--param takes key=value, got '${oneLine(arg)}'`);
  return [...acc, arg];
}

export function paramValues(args: string[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of args) {
    const i = a.indexOf('=');
    const key = a.slice(0, i);
    const raw = a.slice(i + 1);
    out[key] = raw === 'true' ? true : raw === 'false' ? false : raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('train a definition inline (no queue), tracked in the store: cairn run train.ts --data ./data')
    .argument('<training>', 'a TypeScript module that default-exports defineTraining({...})')
    .option('-p, --param <key=value>', 'set a param (repeatable); checked against the definition', parseParam, [])
    .addOption(new Option('--tier <tier>', 'tier settings to use (subset, epochs, budget, policies)').choices([...TIERS]))
    .option('--dataset <name>', "train on this dataset's newest snapshot")
    .option('--snapshot <id>', 'train on this snapshot (a unique id prefix is enough)')
    .option('--data <dir>', 'train on this folder (snapshotted first, so the run names the exact data)')
    .addOption(new Option('--backend <name>', 'force a tfjs backend, and with it the tfjs trainer (default: $CAIRN_BACKEND, else the best usable)').choices(BACKENDS))
    .addOption(new Option('--trainer <name>', 'force a trainer (default: $CAIRN_TRAINER, else the best one that supports the model; see cairn backends)').choices([...KNOWN_TRAINERS]))
    .option('--resume <run>', 'continue from the last checkpoint of this run (a new run, same params and data)')
    .option('--seed <n>', 'seed for initialisers, shuffles and dropout (default: params.seed, else 0)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--seed takes a non-negative integer, got '${oneLine(v)}'`);
      return n;
    })
    .option('--experiment <name>', 'experiment to record the run in (default: the definition name)')
    .option('--checkpoint-every <epochs>', 'checkpoint every N epochs (0: never)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--checkpoint-every takes a non-negative integer, got '${oneLine(v)}'`);
      return n;
    }, 1)
    .option(
      '--policy <json>',
      `an early-abandon policy on top of the tier's (repeatable), e.g. '{"kind":"plateau","patience":5}' or '{"kind":"median"}'`,
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option('--config <file>', 'pipeline config whose tier settings --tier uses (default: cairn.config.ts here, else the defaults)')
    .option('--json', 'print the outcome as JSON')
    .action(async (file: string, opts: RunCmdOptions, cmd: Command) => {
      // With a tier, the operator's settings for it (cairn.config.ts) apply, as on a worker.
      const config = opts.tier ? await (await pipelineLib()).loadConfig(opts.config) : undefined;
      await trainInline(cmd, file, opts, { ...(config ? { config } : {}) }, async (_store, r) => {
        printOutcome(r, Boolean(opts.json));
        if (r.outcome.result.status === 'failed') process.exitCode = 1;
      });
    });
}

/** What `cairn run` and `cairn ci` (without a worker) share: the options that pick the training and its data. */
export interface InlineOptions {
  param: string[];
  tier?: Tier;
  dataset?: string;
  snapshot?: string;
  data?: string;
  backend?: BackendName;
  trainer?: string;
  resume?: string;
  seed?: number;
  experiment?: string;
  checkpointEvery: number;
  policy: string[];
}

export interface InlineRun {
  runId: string;
  runName: string;
  outcome: RunOutcome;
  data: { dir: string; snapshotId?: string };
}

/** Refuses more than one data source (except --data with --dataset naming where it is recorded). */
export function checkDataSources(opts: { dataset?: string | undefined; snapshot?: string | undefined; data?: string | undefined }): void {
  const sources = [opts.dataset, opts.snapshot, opts.data].filter((x) => x !== undefined).length;
  if (sources > 1 && !(opts.data && opts.dataset && !opts.snapshot)) throw new UsageError('give one of --dataset, --snapshot, --data (or --data with --dataset to name the dataset it is recorded in)');
}

/**
 * Trains a definition in this process, tracked in the store (the `cairn run` path): the
 * data snapshotted or checked out, a run started, params checked, runTraining with a
 * progress bar on a terminal, the run ended with the outcome. With `config` and a tier,
 * the config's settings for the tier apply (definitionForTier, as a worker does) and its
 * `evaluateTest`. `after` runs with the store still open (the store is closed after it).
 */
export async function trainInline<T>(
  cmd: Command,
  file: string,
  opts: InlineOptions,
  extra: { config?: PipelineConfig; onRun?: (runId: string, runName: string) => void },
  after: (store: Store, r: InlineRun) => Promise<T>,
): Promise<T> {
  checkDataSources(opts);
  const g = globalOptions(cmd);
  assertStoreExists(storeOptions(g));
  const loc = dataLocation(cmd);
  const blobs = new LocalBlobStore(loc.blobs);
  quietTfjs();
  // The trainers Cairn ships (the native core), when installed and built; tfjs otherwise.
  await loadTrainerModules((await pipelineLib()).TRAINER_MODULES);
  const policies = parsePolicyArgs(opts.policy);
  const loaded = await loadDefinition(file);
  const def = extra.config && opts.tier ? (await pipelineLib()).definitionForTier(loaded.definition, extra.config, opts.tier) : loaded.definition;

  const store = await openStore(storeOptions(g));
  try {
    // Resume: the earlier run's params, seed and data, unless given again.
    let resume: { ref: CheckpointRef; runId: string; params: Record<string, unknown>; snapshotId?: string } | undefined;
    if (opts.resume) resume = await findCheckpoint(store, opts.resume);

    const data = await resolveData(store, blobs, loc, opts, def.name, resume?.snapshotId);
    const raw = { ...(resume?.params ?? {}), ...paramValues(opts.param) };
    const run = await startRun({
      store,
      experiment: opts.experiment ?? def.name,
      ...(opts.tier ? { tier: opts.tier } : {}),
      ...(data.snapshotId ? { snapshotIds: [data.snapshotId] } : {}),
      tags: { definition: def.name, ...(resume ? { resumed_from: resume.runId } : {}) },
      code: { codeHash: loaded.hash },
      cwd: path.dirname(loaded.path),
    });
    extra.onRun?.(run.id, run.name);
    await (await pipelineLib()).recordObjective(store, await store.getExperiment(run.experimentId), def.objective);
    const peers = await peerCurves(store, run.experimentId, run.id, def.objective.metric);
    const stop = new AbortController();
    const onSigint = () => stop.abort(new Error('interrupted (SIGINT)'));
    process.once('SIGINT', onSigint);
    const bar = trainingBar();
    let outcome: RunOutcome;
    try {
      let resolved: Record<string, unknown>;
      try {
        resolved = resolveParams(def, raw);
      } catch (e) {
        await run.end('failed', (e as Error).message);
        throw e;
      }
      await run.logParams(primitives(resolved));
      const reporter: Reporter = (await pipelineLib()).trackingReporter(run, store);
      const evaluateTest = extra.config && opts.tier ? extra.config.tiers[opts.tier].evaluateTest : undefined;
      outcome = await runTraining({
        definition: def,
        params: resolved,
        dataDir: data.dir,
        ...(data.snapshotId ? { snapshotId: data.snapshotId } : {}),
        ...(opts.tier ? { tier: opts.tier } : {}),
        ...(evaluateTest !== undefined ? { evaluateTest } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.backend ? { backend: opts.backend } : {}),
        ...(opts.trainer ? { trainerName: opts.trainer } : {}),
        configured: trainingSettings(),
        reporter,
        store: blobs,
        ...(opts.checkpointEvery > 0 ? { checkpointEveryEpochs: opts.checkpointEvery } : {}),
        ...(resume ? { resumeFrom: resume.ref } : {}),
        policies,
        peers,
        signal: stop.signal,
        code: { path: path.relative(process.cwd(), loaded.path), hash: loaded.hash },
        onBatch: (p) => bar.update(p),
        onStage: (stage, detail) => bar.stage(stage, detail),
      });
      bar.stop();
      await run.end(outcome.result.status, outcome.result.reason ?? null);
    } catch (e) {
      bar.stop();
      if (run.status === 'running') await run.fail(e);
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    return await after(store, { runId: run.id, runName: run.name, outcome, data });
  } finally {
    await store.close();
  }
}

/** `cairn run`'s report of an outcome: JSON, or a few aligned lines. */
export function printOutcome(r: InlineRun, json: boolean): void {
  const { outcome, data } = r;
  const res = outcome.result;
  if (json) {
    outJson({ runId: r.runId, status: res.status, reason: res.reason ?? null, metrics: res.metrics, epochs: res.epochs, steps: res.steps, best: res.best ?? null, backend: outcome.backend ?? null, trainer: outcome.trainer ?? null, settings: outcome.settings ?? null, snapshotId: data.snapshotId ?? null, artifacts: outcome.exported });
    return;
  }
  const status = res.status === 'finished' ? colors.green(res.status) : res.status === 'failed' ? colors.red(res.status) : colors.yellow(res.status);
  out(`Run ${colors.yellow(r.runId)} (${r.runName}) ${status}${res.reason ? `: ${oneLine(res.reason)}` : ''}`);
  if (outcome.trainer) out(`  trainer   ${outcome.trainer.name}${outcome.trainer.skipped.length ? colors.dim(` (skipped: ${outcome.trainer.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`) : ''}`);
  if (outcome.backend) out(`  backend   ${outcome.backend.name}${outcome.backend.skipped.length ? colors.dim(` (skipped: ${outcome.backend.skipped.map((s: { name: string; reason: string }) => `${s.name}: ${s.reason}`).join('; ')})`) : ''}`);
  if (data.snapshotId) out(`  data      snapshot ${data.snapshotId.slice(0, 12)} (${data.dir})`);
  out(`  trained   ${res.epochs} epochs, ${res.steps} steps in ${formatDuration(Math.round(res.elapsedMs))}`);
  const shown = Object.entries(res.metrics).map(([k, v]) => `${k}=${formatNumber(v)}`);
  if (shown.length) out(`  metrics   ${shown.join('  ')}`);
  if (outcome.exported.length) out(`  model     ${outcome.exported.map((f) => `${f.path} ${f.hash.slice(0, 12)}`).join(', ')}`);
}

function parsePolicyArgs(args: string[]): PolicySpec[] {
  const raw = args.map((a) => {
    try {
      return JSON.parse(a) as unknown;
    } catch {
      throw new UsageError(`--policy takes a JSON object such as '{"kind":"plateau","patience":5}', got '${oneLine(a)}'`);
    }
  });
  return parsePolicySpecs(raw);
}

/**
 * The objective's curve in earlier runs of the experiment (newest first, finished or
 * abandoned), for median stopping and bandit: they compare this run, step for step,
 * with what was reached before.
 */
async function peerCurves(store: Store, experimentId: string, self: string, metric: string): Promise<PeerCurve[]> {
  const earlier = await store.searchRuns({ experimentIds: [experimentId], filter: "status IN ('finished', 'abandoned')", limit: MAX_PEERS });
  const curves: PeerCurve[] = [];
  for (const r of earlier.runs) {
    if (r.id === self || !r.metrics[metric]) continue;
    const series = await store.getMetricSeries(r.id, metric, { maxPoints: 2000 });
    curves.push({ runId: r.id, points: series.points.map((p) => ({ step: p.step, value: p.value })) });
  }
  return curves;
}

function primitives(params: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v);
  return out;
}

async function findCheckpoint(store: Store, runRef: string): Promise<{ ref: CheckpointRef; runId: string; params: Record<string, unknown>; snapshotId?: string }> {
  const { lastCheckpoint, paramsFromStore } = await pipelineLib();
  const run = await store.getRun(await store.resolveRunId(runRef));
  const ref = await lastCheckpoint(store, run.id);
  if (!ref) throw new NotFoundError('checkpoint of run', runRef);
  return { ref, runId: run.id, params: paramsFromStore(run.params), ...(run.snapshotIds[0] ? { snapshotId: run.snapshotIds[0] } : {}) };
}

/**
 * Snapshots a data folder into the blob store and records it as the newest version of
 * `dataset` (default `<definition>-data`), so a run names the exact bytes it trained on.
 */
export async function snapshotFolder(
  store: Store,
  blobs: LocalBlobStore,
  loc: { state: string },
  folder: string,
  dataset: string | undefined,
  defName: string,
  usedBy: string,
): Promise<{ dir: string; snapshotId: string; dataset: string }> {
  const dir = path.resolve(folder);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new NotFoundError('directory', folder);
  const name = dataset ?? `${defName}-data`;
  const parsed = nameSchema.safeParse(name);
  if (!parsed.success) throw new UsageError(`invalid dataset name '${oneLine(name)}'`);
  const snap = await snapshotDir(dir, { store: blobs, statCacheDir: loc.state });
  await store.recordSnapshot({ dataset: name, id: snap.id, fileCount: snap.files, bytes: snap.bytes, message: `used by ${usedBy} ${defName}` });
  return { dir, snapshotId: snap.id, dataset: name };
}

/** The folder to train on and the snapshot that names its bytes. */
async function resolveData(
  store: Store,
  blobs: LocalBlobStore,
  loc: { home: string; state: string },
  opts: Pick<InlineOptions, 'data' | 'dataset' | 'snapshot'>,
  defName: string,
  resumeSnapshot: string | undefined,
): Promise<{ dir: string; snapshotId?: string }> {
  if (opts.data) return snapshotFolder(store, blobs, loc, opts.data, opts.dataset, defName, 'cairn run');
  let id: string | undefined;
  if (opts.snapshot) id = await store.resolveSnapshotId(opts.snapshot);
  else if (opts.dataset) {
    const latest = await store.latestSnapshot(opts.dataset);
    if (!latest) throw new NotFoundError('snapshot of dataset', opts.dataset);
    id = latest.id;
  } else id = resumeSnapshot;
  if (!id) throw new UsageError('say which data to train on: --data DIR, --dataset NAME or --snapshot ID');
  // Checked-out snapshots are kept by id (immutable), so a second run reuses the folder.
  const dir = path.join(loc.home, 'checkouts', id);
  const done = path.join(dir, '.cairn-checkout-complete');
  if (!fs.existsSync(done)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    await checkout(id, tmp, { store: blobs });
    fs.writeFileSync(path.join(tmp, '.cairn-checkout-complete'), `${id}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  }
  return { dir, snapshotId: id };
}

/** A progress bar on stderr (terminal only): epoch, step, loss, examples/s and ETA. */
function trainingBar(): {
  update(p: { epoch: number; epochs: number; step: number; stepsPerEpoch: number; loss: number; examplesPerSec: number }): void;
  stage(stage: string, detail?: string): void;
  stop(): void;
} {
  const tty = Boolean(process.stderr.isTTY) && process.env.TERM !== 'dumb';
  let bar: cliProgress.SingleBar | null = null;
  return {
    stage(stage, detail) {
      if (tty && !bar) info(colors.dim(`${stage}${detail ? `: ${detail}` : ''}`));
    },
    update(p) {
      if (!tty) return;
      const total = p.epochs * p.stepsPerEpoch;
      const value = p.epoch * p.stepsPerEpoch + p.step;
      const payload = { ep: `${p.epoch + 1}/${p.epochs}`, loss: formatNumber(p.loss), rate: Math.round(p.examplesPerSec).toLocaleString('en-US') };
      if (!bar) {
        bar = new cliProgress.SingleBar({ stream: process.stderr, format: '{bar} epoch {ep} | step {value}/{total} | loss {loss} | {rate} ex/s | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true, barsize: 24, etaBuffer: 50 });
        bar.start(total, value, payload);
      }
      bar.update(value, payload);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}


