import type { Command } from 'commander';
import { InvalidStateError } from '@cairn/schema';
import { TIERS, type Tier } from '@cairn/engine';
import type { RegisteredSchedule, TierQueues, WorkerBeat } from '@cairn/pipeline';
import { globalOptions, withStore } from '../context.ts';
import { formatDateTime, formatRelative, oneLine } from '../output/format.ts';
import { colors, info, out, outJson, outputWidth, toJson } from '../output/io.ts';
import { renderTable, type Cell, type Column } from '../output/table.ts';
import { pipelineContext, pipelineLib, pipelineOptions, withQueues, type PipelineCmdOptions, type PipelineContext, type RedisConnection } from '../pipeline.ts';

/** The states `cairn queue` counts (as the worker's metrics do). */
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

type Counts = Record<(typeof QUEUE_STATES)[number], number>;

interface QueueSnapshot {
  prefix: string;
  tiers: Record<Tier, Counts & { queue: string; workers: number }>;
  workers: WorkerBeat[];
}

async function snapshot(ctx: PipelineContext, redis: RedisConnection, queues: TierQueues): Promise<QueueSnapshot> {
  const { listWorkerBeats, queueName } = await pipelineLib();
  const tiers = {} as QueueSnapshot['tiers'];
  for (const tier of TIERS) {
    const q = queues.get(tier);
    const counts = (await q.getJobCounts(...QUEUE_STATES)) as Partial<Counts>;
    const full = Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as Counts;
    tiers[tier] = { queue: queueName(tier, ctx.prefix), ...full, workers: await q.getWorkersCount().catch(() => 0) };
  }
  return { prefix: ctx.prefix, tiers, workers: await listWorkerBeats(redis, ctx.prefix) };
}

function render(s: QueueSnapshot): string {
  const columns: Column[] = [{ header: 'TIER' }, ...QUEUE_STATES.map((st): Column => ({ header: st.toUpperCase(), align: 'right' })), { header: 'WORKERS', align: 'right' }];
  const rows = TIERS.map((t): Cell[] => {
    const c = s.tiers[t];
    return [t, ...QUEUE_STATES.map((st): Cell => (c[st] ? { text: String(c[st]), style: st === 'failed' ? colors.red : st === 'active' ? colors.cyan : (x: string) => x } : { text: '0', style: colors.dim })), c.workers ? String(c.workers) : { text: '0', style: colors.dim }];
  });
  const lines = [renderTable(columns, rows, { width: outputWidth() })];
  lines.push('');
  if (!s.workers.length) lines.push(colors.dim(`No worker is up (queue prefix '${s.prefix}'): start one with 'cairn worker'.`));
  else {
    lines.push(colors.bold('Workers'));
    for (const w of s.workers) {
      const running = w.running.length ? w.running.map((r) => `${r.tier} ${r.runId} since ${formatRelative(new Date(r.since))}`).join(', ') : colors.dim('idle');
      lines.push(`  ${w.id}  ${w.tiers.join(',')}  ${running}${w.metricsUrl ? colors.dim(`  ${w.metricsUrl}`) : ''}`);
    }
  }
  return lines.join('\n');
}

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description('jobs per tier and state in the queues, and the workers that are up')
    .option('--watch', 'refresh every second until Ctrl-C')
    .option('--json', 'print {prefix, tiers: {TIER: {queue, waiting, active, delayed, prioritized, completed, failed, workers}}, workers} as JSON (one line per refresh with --watch)');
  pipelineOptions(queue)
    .addHelpText(
      'after',
      `
Jobs with a priority (every tier has one) wait as PRIORITIZED rather than WAITING. WORKERS
counts BullMQ workers connected to each queue; the list below it comes from the workers'
heartbeats (each refreshed every 10 s, gone 30 s after a worker dies).`,
    )
    .action(async (opts: PipelineCmdOptions & { watch?: boolean; json?: boolean }) => {
      const ctx = await pipelineContext(opts);
      await withQueues(ctx, async (redis, queues) => {
        if (!opts.watch) {
          const s = await snapshot(ctx, redis, queues);
          if (opts.json) outJson(s);
          else out(render(s));
          return;
        }
        let stop = false;
        const onSigint = () => (stop = true);
        process.once('SIGINT', onSigint);
        const tty = Boolean(process.stdout.isTTY);
        try {
          while (!stop) {
            const s = await snapshot(ctx, redis, queues);
            if (opts.json) out(JSON.stringify(JSON.parse(toJson(s))));
            else if (tty) process.stdout.write(`\x1b[H\x1b[2J${render(s)}\n${colors.dim(`${formatDateTime(new Date())}  Ctrl-C to stop`)}\n`);
            else out(`${render(s)}\n`);
            for (let i = 0; i < 10 && !stop; i++) await new Promise((r) => setTimeout(r, 100));
          }
        } finally {
          process.off('SIGINT', onSigint);
        }
      });
    });

  const cancel = program
    .command('cancel')
    .description('cancel a queued or running run (runs only for now; sweeps later)')
    .argument('<run>', 'run id (a unique prefix is enough)')
    .option('--force', "also end a running run that no worker holds (its process is gone) as cancelled")
    .option('--json', 'print {runId, outcome} as JSON');
  pipelineOptions(cancel)
    .addHelpText(
      'after',
      `
A queued run leaves its queue and ends 'cancelled'. A running one is signalled: the
worker that trains it stops, checkpoints and ends it 'cancelled'. A run that has ended
is an error (exit 1). With the embedded store this only works while no worker holds it.`,
    )
    .action(async (ref: string, opts: PipelineCmdOptions & { force?: boolean; json?: boolean }, c: Command) => {
      const g = globalOptions(c);
      const ctx = await pipelineContext(opts);
      await withQueues(ctx, async (redis, queues) => {
        await withStore(g, async (store) => {
          const runId = await store.resolveRunId(ref);
          const run = await store.getRun(runId);
          if (run.status !== 'queued' && run.status !== 'running') throw new InvalidStateError(`run ${runId} already ended (${run.status}): nothing to cancel`);
          let held = false;
          if (run.status === 'running') {
            for (const q of queues.all()) {
              const job = await q.getJob(runId);
              if (job && (await job.getState()) === 'active') held = true;
            }
          }
          const { cancelRun } = await pipelineLib();
          const outcome = await cancelRun(runId, { store, queues, connection: redis, prefix: ctx.prefix });
          let result: string = outcome;
          if (outcome === 'signalled' && !held && opts.force) {
            await store.endRun(runId, 'cancelled', 'cancelled by request (no worker held it)');
            result = 'ended';
          }
          if (opts.json) {
            outJson({ runId, outcome: result });
            return;
          }
          if (outcome === 'removed') out(`Cancelled run ${colors.yellow(runId)}: removed from the ${run.tier ?? ''} queue before it started`);
          else if (outcome === 'already-ended') out(`Run ${runId} ended meanwhile: nothing to cancel`);
          else if (result === 'ended') out(`Ended run ${colors.yellow(runId)} as cancelled (no worker held it)`);
          else {
            out(`Asked the worker training run ${colors.yellow(runId)} to stop: it checkpoints and ends the run 'cancelled'`);
            if (!held) info(colors.yellow(`No worker holds its job: if 'cairn run' trains it, press Ctrl-C there; if its process is gone, 'cairn cancel ${runId} --force' ends it.`));
          }
        });
      });
    });

  const schedules = program
    .command('schedules')
    .description("the tiers' cron schedules from the config, and the job schedulers the workers registered in Redis")
    .option('--json', 'print {configured: [...], registered: [...] | null} as JSON');
  pipelineOptions(schedules)
    .addHelpText(
      'after',
      `
Workers register a scheduler for each scheduled tier they consume when they start. When
one fires, a worker queues a run of the tier for the newest code whose run of
'candidatesFrom' passed its gate, per experiment, on the snapshot the tier asks for
('pinned': the candidate's; 'latest': the dataset's newest). Without Redis only the
config is shown.`,
    )
    .action(async (opts: PipelineCmdOptions & { json?: boolean }) => {
      const ctx = await pipelineContext(opts);
      const configured = TIERS.filter((t) => ctx.config.tiers[t].schedule).map((t) => {
        const c = ctx.config.tiers[t];
        return { tier: t, cron: c.schedule!, timezone: c.timezone, candidatesFrom: c.candidatesFrom ?? null, snapshot: c.snapshot };
      });
      let registered: RegisteredSchedule[] | null = null;
      let redisError: string | null = null;
      try {
        const { connectRedis, listSchedules, scheduleQueue } = await pipelineLib();
        const redis = await connectRedis(ctx.redisUrl, { timeoutMs: 1_000 });
        const q = scheduleQueue(redis, ctx.prefix);
        try {
          registered = await listSchedules(q);
        } finally {
          await q.close().catch(() => undefined);
          await redis.quit().catch(() => redis.disconnect());
        }
      } catch (e) {
        redisError = (e as Error).message;
      }
      if (opts.json) {
        outJson({ configured, registered });
        return;
      }
      const columns: Column[] = [{ header: 'TIER' }, { header: 'CRON' }, { header: 'TIMEZONE' }, { header: 'CANDIDATES FROM' }, { header: 'DATA' }, { header: 'REGISTERED' }, { header: 'NEXT' }];
      const rows = configured.map((s): Cell[] => {
        const reg = registered?.find((r) => r.tier === s.tier);
        const same = reg && reg.pattern === s.cron && (reg.timezone ?? 'UTC') === s.timezone;
        return [
          s.tier,
          s.cron,
          s.timezone,
          s.candidatesFrom ?? { text: '-', style: colors.dim },
          s.snapshot,
          registered === null ? { text: '?', style: colors.dim } : !reg ? { text: 'no', style: colors.yellow } : same ? { text: 'yes', style: colors.green } : { text: `as '${reg.pattern}' ${reg.timezone ?? ''}`.trim(), style: colors.yellow },
          reg?.next ? formatDateTime(reg.next) : '',
        ];
      });
      if (rows.length) out(renderTable(columns, rows, { width: outputWidth() }));
      else out(colors.dim('No tier has a schedule in the config.'));
      const stale = (registered ?? []).filter((r) => !configured.some((s) => s.tier === r.tier));
      for (const r of stale) out(colors.yellow(`Registered but not in the config: ${r.tier} '${r.pattern}' ${r.timezone ?? ''} (a worker consuming ${r.tier} removes it when it starts)`));
      if (redisError) info(colors.dim(`Registered schedulers not shown: ${oneLine(redisError)}`));
      else if (registered && configured.some((s) => !registered!.some((r) => r.tier === s.tier))) info(colors.dim(`A worker registers a tier's scheduler when it starts consuming that tier ('cairn worker --tiers ...').`));
    });
}
