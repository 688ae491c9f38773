import path from 'node:path';
import type { Command } from 'commander';
import { LocalBlobStore } from '@cairn/snapshot';
import { hostEmbeddedStore, openStore, resolveLocation } from '@cairn/store';
import { assertStoreExists, globalOptions, storeOptions } from '../context.ts';
import { UsageError } from '../errors.ts';
import { oneLine } from '../output/format.ts';
import { info } from '../output/io.ts';
import { dataLocation } from './data.ts';
import { cliConfig } from '../config.ts';

interface ServeOptions {
  port: number;
  host?: string;
  environment?: string;
  batching: boolean;
  maxBatch?: number;
  batchDelay?: number;
  reload?: number;
}

function whole(option: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || n < min || n > max) throw new UsageError(`${option} takes a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got '${oneLine(v)}'`);
    return n;
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .argument('<ref>', 'NAME@ALIAS (follows the alias as it moves), NAME@VERSION or NAME')
    .option('--port <port>', 'port to listen on (0: any free one)', whole('--port', 0, 65535), 8080)
    .option('--host <host>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 for all)')
    .option('--environment <name>', 'the deployment environment recorded in the store (default: the alias)')
    .option('--no-batching', 'one model call per request instead of micro-batching concurrent ones')
    .option('--max-batch <rows>', 'rows per model call when micro-batching (default 256)', whole('--max-batch', 1, 100_000))
    .option('--batch-delay <ms>', 'longest wait for more requests to batch (default 2)', whole('--batch-delay', 0, 10_000))
    .option('--reload <ms>', 'how often to check whether the alias moved (default 5000; 0: never)', whole('--reload', 0, 86_400_000))
    .description('serve a model version over HTTP: POST /predict, GET /health, /metadata, /metrics')
    .addHelpText(
      'after',
      `
The server records a deployment (version → environment, host, started, stopped) in the
store, so lineage reaches what is serving; when the alias moves it loads the new version,
swaps it in and records the new deployment. Runs until SIGTERM or Ctrl-C.

On the embedded store the server shares it on a loopback port while it runs, so other
cairn commands (models alias, ui) keep working; several servers need PostgreSQL.

It has no accounts. On loopback (the default) it answers only requests addressed to
localhost or an IP address, so a web page cannot reach it through a name rebound to
127.0.0.1 (DNS rebinding); CAIRN_ALLOWED_HOSTS (comma-separated names, .domain for a
domain and its subdomains) adds names, and when set restricts --host 0.0.0.0 alike.

Examples:
  cairn serve iris-mlp@production --port 8080
  curl -s localhost:8080/predict -H 'content-type: application/json' \\
    -d '{"rows":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}'`,
    )
    .action(async (ref: string, opts: ServeOptions, cmd: Command) => {
      const { startModelServer } = await import('@cairn/models');
      const { quietTfjs } = await import('@cairn/engine');
      quietTfjs();
      // Checked before anything starts: a bad entry is the operator's to fix, not a 403 per request.
      const allowedHosts = cliConfig().allowedHosts;
      const so = storeOptions(globalOptions(cmd));
      assertStoreExists(so);
      const loc = dataLocation(cmd);
      // Long-lived: on the embedded store it hosts (or joins the host), so cairn models
      // alias and the portal keep working on the same CAIRN_HOME while it serves.
      const where = resolveLocation(so);
      const hosted = where.driver === 'pglite' ? await hostEmbeddedStore({ home: where.home }) : null;
      const store = hosted ? hosted.store : await openStore(so);
      try {
        const server = await startModelServer({
          store,
          blobs: new LocalBlobStore(loc.blobs),
          ref,
          cacheDir: path.join(loc.home, 'models'),
          port: opts.port,
          ...(opts.host ? { host: opts.host } : {}),
          ...(allowedHosts ? { allowedHosts } : {}),
          ...(opts.environment ? { environment: opts.environment } : {}),
          batching: opts.batching ? { ...(opts.maxBatch ? { maxBatchRows: opts.maxBatch } : {}), ...(opts.batchDelay !== undefined ? { maxDelayMs: opts.batchDelay } : {}) } : false,
          ...(opts.reload !== undefined ? { reloadIntervalMs: opts.reload } : {}),
          log: (line) => info(line),
        });
        const v = server.version();
        info(`serving ${v.modelName}@${v.version} (${ref}) on ${server.url}; deployment ${server.deploymentId()}`);
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
        info('stopping: the deployment is marked stopped');
        await server.close();
      } finally {
        await (hosted ?? store).close();
      }
    });
}
