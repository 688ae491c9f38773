import type { Command } from 'commander';
// The options' own entry: the CLI starts without loading BullMQ and the rest of the worker.
import { WORKER_DESCRIPTION, addWorkerOptions, workerHelpText, workerOptionsFrom, type WorkerFlags } from '@cairn/pipeline/worker-options';
import { globalOptions, storeOptions } from '../context.ts';
import { pipelineLib } from '../pipeline.ts';
import { dataLocation } from './data.ts';
import { cliConfig } from '../config.ts';

/**
 * `cairn worker`: the worker's options are @cairn/pipeline's (addWorkerOptions), the
 * ones the `cairn-worker` executable has too; the store and blob store are the CLI's
 * global options.
 */
export function registerWorker(program: Command): void {
  const cmd = program.command('worker').description(WORKER_DESCRIPTION);
  addWorkerOptions(cmd)
    .addHelpText('after', workerHelpText(['cairn worker', 'cairn --db postgres://cairn@db/cairn worker --tiers ci,extended --concurrency 2 --metrics-port 9464']))
    .action(async (opts: WorkerFlags, c: Command) => {
      const g = globalOptions(c);
      const { runWorker } = await pipelineLib();
      const code = await runWorker({ ...workerOptionsFrom(opts), store: storeOptions(g), blobs: dataLocation(c).blobs, environment: cliConfig() });
      if (code) process.exitCode = code;
    });
}
