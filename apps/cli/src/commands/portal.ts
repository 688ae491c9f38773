import type { Command } from 'commander';
import { globalOptions } from '../context.ts';
import { recordDemo, REPO_ROOT } from '../demo.ts';
import { UsageError } from '../errors.ts';
import { oneLine } from '../output/format.ts';
import { colors, info, out, outJson } from '../output/io.ts';
import { pipelineContext, pipelineLib, pipelineOptions, type PipelineCmdOptions } from '../pipeline.ts';
import { startPortal, type StartedPortal } from '../portal.ts';
import { openServices, type Services } from '../services.ts';
import { dataLocation } from './data.ts';
import { cliConfig } from '../config.ts';

interface PortalCmdOptions extends PipelineCmdOptions {
  port: number;
  host: string;
  rebuild?: boolean;
}

function port(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || n < 1 || n > 65535) throw new UsageError(`--port takes a port from 1 to 65535, got '${oneLine(v)}'`);
  return n;
}

function portalOptions(cmd: Command): Command {
  return pipelineOptions(
    cmd
      .option('--port <port>', 'port the portal listens on', port, 3000)
      .option('--host <host>', 'interface the portal listens on (0.0.0.0: every interface)', '127.0.0.1')
      .option('--rebuild', 'build the portal again even when its build looks current'),
  );
}

const log = (line: string) => info(line);

/** Resolves with the first SIGINT or SIGTERM; a second one exits at once. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = 0;
    const on = (s: NodeJS.Signals) => {
      if (++seen > 1) process.exit(130);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

async function servePortal(services: Services, o: PortalCmdOptions, prefix: string): Promise<StartedPortal> {
  return startPortal({
    port: o.port,
    host: o.host,
    rebuild: Boolean(o.rebuild),
    log,
    env: { DATABASE_URL: services.storeUrl, ...(services.redis ? { REDIS_URL: services.redis.url, CAIRN_QUEUE_PREFIX: prefix } : {}) },
  });
}

type Stoppers = (() => Promise<unknown>)[];

/**
 * Opens the store and Redis, lets `start` bring up what the command runs (each thing
 * it starts pushes its stop), then keeps it all up until Ctrl-C. Everything stops in
 * reverse order: after the signal, on a failure in `start`, or when `start` returns
 * 'done' (a command that had nothing to keep running).
 */
async function runUntilSignal(
  o: PortalCmdOptions,
  c: Command,
  open: { privateRedis?: boolean },
  start: (services: Services, ctx: Awaited<ReturnType<typeof pipelineContext>>, stoppers: Stoppers) => Promise<'done' | void>,
): Promise<void> {
  const ctx = await pipelineContext(o);
  const services = await openServices(globalOptions(c), ctx, { log, ...open });
  const stoppers: Stoppers = [() => services.close()];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  };
  try {
    if ((await start(services, ctx, stoppers)) === 'done') return await stopAll();
  } catch (e) {
    await stopAll();
    throw e;
  }
  const signal = await untilSignal();
  info(colors.dim(`${signal}: stopping`));
  await stopAll();
}

export function registerPortal(program: Command): void {
  portalOptions(
    program
      .command('ui')
      .description('start the web portal on this store (builds it first when needed), until Ctrl-C')
      .addHelpText(
        'after',
        `
The portal reads the same store as the CLI (--db / DATABASE_URL, else the embedded store in
CAIRN_HOME, which this process then shares on a loopback port so other cairn commands keep
working), and the queues on REDIS_URL when Redis answers.

Examples:
  cairn ui
  cairn --db postgres://cairn@db/cairn ui --host 0.0.0.0 --port 8080`,
      ),
  ).action((o: PortalCmdOptions, c: Command) =>
    runUntilSignal(o, c, {}, async (services, ctx, stoppers) => {
      const portal = await servePortal(services, o, ctx.prefix);
      stoppers.push(() => portal.stop());
      out(`Cairn portal: ${colors.bold(portal.url)}   (${services.storeLabel}${services.redis ? '' : `; queues off: ${services.noRedis}`})`);
      out(colors.dim('Ctrl-C stops it.'));
    }),
  );

  portalOptions(
    program
      .command('up')
      .description('start the portal and a worker together (and a private Redis when none answers and redis-server is installed), until Ctrl-C')
      .addHelpText(
        'after',
        `
Everything one machine needs: the store (shared as for 'cairn ui'), Redis, a worker for
every tier, and the portal. On a team deployment run these separately (see docker/).

Examples:
  cairn up
  cairn up --port 8080`,
      ),
  ).action((o: PortalCmdOptions, c: Command) =>
    runUntilSignal(o, c, { privateRedis: true }, async (services, ctx, stoppers) => {
      if (!services.redis) throw new UsageError(`cairn up needs Redis for its worker: ${services.noRedis}; install redis-server or set REDIS_URL (or use 'cairn ui' for the portal alone)`);
      const { startWorker } = await pipelineLib();
      const worker = await startWorker({
        // The Redis the services found or started (a private one included).
        environment: { ...cliConfig(), redisUrl: services.redis.url },
        cwd: REPO_ROOT,
        store: { url: services.storeUrl },
        blobs: dataLocation(c).blobs,
        queuePrefix: ctx.prefix,
        ...(o.config ? { configFile: o.config } : {}),
        log,
      });
      stoppers.push(() => worker.close());
      const portal = await servePortal(services, o, ctx.prefix);
      stoppers.push(() => portal.stop());
      out(`Cairn portal: ${colors.bold(portal.url)}   worker ${worker.id} on ${worker.tiers.join(', ')}   (${services.storeLabel})`);
      out(colors.dim('Ctrl-C stops them.'));
    }),
  );

  portalOptions(
    program
      .command('demo')
      .description('record a small real project (datasets, ci runs, a sweep, failed and abandoned runs, a registered model) and open it in the portal')
      .option('--no-ui', 'record the demo and exit, without starting the portal')
      .option('--json', 'print what was recorded as JSON (implies --no-ui)')
      .addHelpText(
        'after',
        `
What it records, in the store the CLI uses (by default the embedded one in ./.cairn):
  1. the example datasets (examples/iris-mlp/data, examples/digits-cnn/data) as snapshots;
  2. the ci tier of both examples, through the queue and a worker in this process when
     Redis answers (or a private redis-server can be started), inline otherwise;
  3. a random sweep of 8 Iris trials, 2 at a time, with median stopping (queue only);
  4. the quick-start script's runs: two finish, one is abandoned, one diverges and fails;
  5. the best Iris model, registered as iris-mlp and aliased production.
Then it starts the portal and prints its URL (about two to five minutes in all, the first
portal build included). Runs promoted by a passed ci gate wait on the extended queue.

Examples:
  cairn demo
  cairn demo --no-ui --json`,
      ),
  ).action((o: PortalCmdOptions & { ui: boolean; json?: boolean }, c: Command) =>
    runUntilSignal(o, c, { privateRedis: true }, async (services, ctx, stoppers) => {
      info(colors.dim(`Store: ${services.storeLabel}; ${services.redis ? `queues on ${services.redis.url}` : `inline (${services.noRedis})`}`));
      const summary = await recordDemo(c, services, ctx, log);
      if (o.json || !o.ui) {
        if (o.json) outJson(summary);
        else out(colors.green("Demo recorded. 'cairn ui' shows it in the portal."));
        return 'done';
      }
      const portal = await servePortal(services, o, ctx.prefix);
      stoppers.push(() => portal.stop());
      out('');
      out(`Open ${colors.bold(portal.url)} to see the demo's experiments, runs, sweep, lineage and model.`);
      out(colors.dim('Ctrl-C stops the portal; the data stays in the store.'));
    }),
  );
}
