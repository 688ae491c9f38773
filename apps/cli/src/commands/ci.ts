import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { BACKENDS, KNOWN_TRAINERS, type BackendName } from '@cairn/engine';
import type { GateResult, TierQueues } from '@cairn/pipeline';
import { liveHost, openStore, redactUrl, resolveLocation, type RunDetail } from '@cairn/store';
import { assertStoreExists, globalOptions, storeOptions } from '../context.ts';
import { junitXml, type JUnitCase } from '../junit.ts';
import { formatNumber, oneLine } from '../output/format.ts';
import { colors, info, out, outJson } from '../output/io.ts';
import { parseSeconds, pipelineContext, pipelineLib, pipelineOptions, showValue, verdictFor, waitForRun, type PipelineCmdOptions, type RedisConnection, type Verdict, type Waited } from '../pipeline.ts';
import { parseParam, trainInline } from './run.ts';
import { ENGINE_METRICS, passed, printEnded, requireData, submitTo, type DataOptions } from './submit.ts';

interface CiCmdOptions extends PipelineCmdOptions, DataOptions {
  junit: string;
  timeout?: number;
  inline?: boolean;
  backend?: BackendName;
  trainer?: string;
  json?: boolean;
}

const TIER = 'ci' as const;

export function registerCi(program: Command): void {
  const cmd = program
    .command('ci')
    .description("the command a CI pipeline runs on every commit: the ci tier, its gate's verdict, a JUnit report; exit 0 only when the gate passed")
    .argument('<training>', 'a TypeScript module that default-exports defineTraining({...})')
    .option('-p, --param <key=value>', 'set a param (repeatable); checked against the definition', parseParam, [])
    .option('--dataset <name>', "train on this dataset's newest snapshot")
    .option('--snapshot <id>', 'train on this snapshot (a unique id prefix is enough)')
    .option('--data <dir>', 'train on this folder (snapshotted first, so the run names the exact data)')
    .option('--experiment <name>', 'experiment to record the run in (default: the definition name)')
    .option('--junit <file>', 'where to write the JUnit XML report', 'cairn-junit.xml')
    .option('--timeout <seconds>', "how long to wait for a queued run to end (default: the ci tier's time budget + 30 minutes; 0: no limit)", parseSeconds('--timeout'))
    .option('--inline', 'train in this process even when a worker is up')
    .addOption(new Option('--backend <name>', 'inline: force a tfjs backend, and with it the tfjs trainer (default: $CAIRN_BACKEND, else the best usable)').choices(BACKENDS))
    .addOption(new Option('--trainer <name>', "inline: force a trainer (default: $CAIRN_TRAINER, else the best one that supports the model); queued runs use the worker's").choices([...KNOWN_TRAINERS]))
    .option('--json', 'print {runId, mode, status, reason, passed, gate, junit} as JSON');
  pipelineOptions(cmd)
    .addHelpText(
      'after',
      `
Where it trains: through the ci queue when the store is shared (PostgreSQL), Redis answers
and a worker consumes the ci queue (the worker trains, gates and promotes the run to the
next tier); otherwise inline, in this process, as 'cairn run --tier ci' would, and the ci
gate is then evaluated and recorded here (an inline run is not promoted: it has no code
bundle; queue it with 'cairn submit'). Either way the ci tier's settings come from
cairn.config.ts (or --config) over the defaults.

Prints the gate's verdict with every value it read, writes a JUnit report (suite
"cairn ci": a testcase for the run's status and one for the gate, with a <failure>
listing the values when it fails). Exit status: 0 when the run finished and the gate
passed; 1 when not (or the run did not end in time); 2 for usage errors.

Examples:
  cairn ci examples/iris-mlp/train.ts --data examples/iris-mlp/data
  cairn ci train.ts --dataset mnist --junit reports/cairn.xml --timeout 1200`,
    )
    .action(async (file: string, opts: CiCmdOptions, c: Command) => {
      requireData(opts);
      const ctx = await pipelineContext(opts);
      const { TierQueues, connectRedis, queueName } = await pipelineLib();
      const g = globalOptions(c);
      const location = resolveLocation(storeOptions(g));
      const startedAt = new Date();
      const queue = queueName(TIER, ctx.prefix);

      // Queue or inline: a worker needs the shared store and Redis; nothing here ever waits on Redis.
      let redis: RedisConnection | null = null;
      let queues: TierQueues | null = null;
      let why = '';
      if (opts.inline) why = '--inline';
      else if (location.driver === 'pglite' && !liveHost(location.home)) why = 'no worker shares the embedded store (start one with cairn worker)';
      else {
        try {
          redis = await connectRedis(ctx.redisUrl, { timeoutMs: 1_000 });
          queues = new TierQueues(redis, ctx.prefix);
          const workers = await queues.get(TIER).getWorkersCount();
          if (workers === 0) why = `no worker consumes ${queue}`;
        } catch {
          why = `no Redis answers at ${redactUrl(ctx.redisUrl)}`;
        }
      }
      const mode: 'queue' | 'inline' = why ? 'inline' : 'queue';
      if (!opts.json) info(colors.dim(mode === 'queue' ? `Queueing on ${queue}: a worker trains it` : `Training inline (${why})`));

      let runId: string | null = null;
      let waited: Waited;
      let verdict: Verdict | null = null;
      const timeoutS = opts.timeout ?? ctx.config.tiers.ci.timeBudgetMs / 1000 + 1800;
      try {
        if (mode === 'queue') {
          assertStoreExists(storeOptions(g));
          const store = await openStore(storeOptions(g));
          try {
            const submitted = await submitTo(c, store, queues!, ctx.config, file, TIER, opts);
            runId = submitted.runId;
            if (!opts.json) info(colors.dim(`Queued run ${runId}`));
            waited = await waitForRun(store, queues!, runId, TIER, { timeoutMs: timeoutS * 1000, quiet: Boolean(opts.json) });
            if (!waited.timedOut && !waited.jobFailure) verdict = await verdictFor(store, waited.run, ctx.config, TIER, queues!);
          } finally {
            await store.close();
          }
        } else {
          ({ waited, verdict } = await trainInline(
            c,
            file,
            { param: opts.param, tier: TIER, checkpointEvery: 1, policy: [], ...pick(opts, ['dataset', 'snapshot', 'data', 'experiment', 'backend', 'trainer']) },
            { config: ctx.config, onRun: (id) => (runId = id) },
            async (store, r) => {
              const run = await store.getRun(r.runId);
              return { waited: { run, timedOut: false }, verdict: await verdictFor(store, run, ctx.config, TIER) };
            },
          ));
        }
      } catch (e) {
        // A run that was created but could not be trained still gets its report.
        if (runId) writeReport(opts.junit, startedAt, mode, runId, ctx.config.tiers.ci.gate, null, null, e as Error);
        throw e;
      } finally {
        await queues?.close().catch(() => undefined);
        await redis?.quit().catch(() => redis?.disconnect());
      }

      const ok = passed(waited, verdict);
      const junit = writeReport(opts.junit, startedAt, mode, runId!, ctx.config.tiers.ci.gate, waited, verdict, null, timeoutS);
      if (opts.json) {
        outJson({ runId, mode, status: waited.run.status, reason: waited.run.statusReason, timedOut: waited.timedOut, jobFailure: waited.jobFailure ?? null, passed: ok, gate: verdict?.gate ?? null, promoted: verdict?.promoted ?? null, junit });
      } else {
        printEnded(waited, verdict, TIER, timeoutS);
        out(ok ? colors.green('ci passed') : colors.red('ci failed'));
        out(colors.dim(`JUnit report: ${junit}`));
      }
      if (!ok) process.exitCode = 1;
    });
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const outObj: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) outObj[k] = o[k];
  return outObj;
}

/** Writes the JUnit report; returns its path. */
function writeReport(file: string, startedAt: Date, mode: string, runId: string, gate: string | undefined, waited: Waited | null, verdict: Verdict | null, error: Error | null, timeoutS = 0): string {
  const abs = path.resolve(file);
  const run = waited?.run ?? null;
  const cases: JUnitCase[] = [statusCase(runId, run, waited, error, timeoutS)];
  const expression = verdict?.gate?.expression ?? gate;
  if (verdict?.gate) cases.push(gateCase(verdict.gate));
  else if (gate && verdict === null) {
    cases.push({ name: `ci gate: ${gate}`, classname: 'cairn.ci', timeSec: 0, error: { message: 'not evaluated: the run did not end', type: 'not-evaluated', body: 'The gate is evaluated when the run ends.' } });
  }
  const xml = junitXml({
    name: 'cairn ci',
    timestamp: startedAt,
    timeSec: (Date.now() - startedAt.getTime()) / 1000,
    properties: { run: runId, tier: TIER, mode, ...(run?.snapshotIds[0] ? { snapshot: run.snapshotIds[0] } : {}), ...(run?.codeHash ? { code: run.codeHash } : {}), ...(expression ? { gate: expression } : {}) },
    cases,
  });
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, xml);
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

function runSeconds(run: RunDetail | null): number {
  if (!run?.startedAt) return 0;
  return ((run.endedAt ?? new Date()).getTime() - run.startedAt.getTime()) / 1000;
}

function statusCase(runId: string, run: RunDetail | null, waited: Waited | null, error: Error | null, timeoutS: number): JUnitCase {
  const base = { name: 'run status', classname: 'cairn.ci', timeSec: runSeconds(run) };
  const metrics = run ? Object.values(run.metrics).filter((m) => !ENGINE_METRICS.test(m.key)).map((m) => `${m.key} = ${formatNumber(m.last, 6)}`) : [];
  const systemOut = [`run ${runId}${run ? ` (${run.name}) ${run.status}` : ''}`, ...metrics].join('\n');
  if (error) return { ...base, error: { message: oneLine(error.message), type: error.name || 'Error', body: error.message }, systemOut };
  if (waited?.timedOut) return { ...base, error: { message: `run still ${run!.status} after ${timeoutS} s`, type: 'timeout', body: `Stopped waiting for run ${runId}; it goes on.` }, systemOut };
  if (waited?.jobFailure) return { ...base, error: { message: `job failed: ${oneLine(waited.jobFailure)}`, type: 'job-failed', body: waited.jobFailure }, systemOut };
  if (run && run.status !== 'finished') {
    const message = `run ${run.status}${run.statusReason ? `: ${oneLine(run.statusReason)}` : ''}`;
    return { ...base, failure: { message, type: run.status, body: message }, systemOut };
  }
  return { ...base, systemOut };
}

function gateCase(gate: GateResult): JUnitCase {
  const values = Object.entries(gate.values).map(([k, v]) => `${k} = ${showValue(v)}`);
  const base = { name: `ci gate: ${gate.expression}`, classname: 'cairn.ci', timeSec: 0, systemOut: values.join('\n') };
  if (gate.passed) return base;
  const missing = gate.missing.length ? ` (missing: ${gate.missing.join(', ')})` : '';
  return { ...base, failure: { message: `gate failed: ${values.join(', ')}${missing}`, type: 'gate', body: [`${gate.expression}`, ...values].join('\n') } };
}
