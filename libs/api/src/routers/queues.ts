import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { DEFAULT_PIPELINE_CONFIG, JOB_STATES, cancelRun, countQueueJobs, createQueuedRun, listQueueJobs, storedParams, type QueueJob, type TierCounts } from '@cairn/pipeline/queues';
import { CairnError, StoreUnreachableError, ValidationError } from '@cairn/schema';
import { authorizeRun, readableRunIds } from '../access.ts';
import type { Context } from '../context.ts';
import { key, runRef } from '../inputs.ts';
import type { ApiQueues } from '../queues.ts';
import { toRunRows, type RunRow } from '../run-rows.ts';
import { procedure, router } from '../trpc.ts';

export const QUEUES_UNAVAILABLE = 'the training queues are not available: start Redis or set REDIS_URL';
const DEFAULT_TIMEOUT_MS = 3_000;

export { JOB_STATES, type JobState, type QueueJob, type TierCounts } from '@cairn/pipeline/queues';

export interface QueueCounts {
  available: boolean;
  /** The BullMQ key prefix of the queues, when available. */
  prefix?: string;
  tiers: TierCounts[];
  /** Why not available. */
  reason?: string;
}

export interface CancelResult {
  /** removed: taken off its queue and ended; signalled: its worker was told to stop it; already-ended: nothing to do. */
  outcome: 'removed' | 'signalled' | 'already-ended';
  run: RunRow;
}

/**
 * Queue calls wait for Redis through an outage (BullMQ needs that); a page must not, so
 * each call has a deadline, and a connection failure is SERVICE_UNAVAILABLE rather than
 * an internal error.
 */
function withDeadline<T>(q: ApiQueues, work: Promise<T>): Promise<T> {
  const ms = q.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnreachableError(`Redis did not answer within ${ms} ms: check that it is running (REDIS_URL)`)), ms);
  });
  const failed = work.catch((e: unknown) => {
    throw e instanceof CairnError ? e : new StoreUnreachableError(`the queue operation failed: ${(e as Error).message}`, { cause: e });
  });
  return Promise.race([failed, deadline]).finally(() => clearTimeout(timer));
}

function requireQueues(ctx: Context): ApiQueues {
  if (!ctx.queues) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: QUEUES_UNAVAILABLE });
  return ctx.queues;
}

export async function queueCounts(ctx: Context): Promise<QueueCounts> {
  const q = ctx.queues;
  if (!q) return { available: false, tiers: [], reason: QUEUES_UNAVAILABLE };
  try {
    const tiers = await withDeadline(q, countQueueJobs(q.tierQueues));
    return { available: true, prefix: q.tierQueues.prefix, tiers };
  } catch (e) {
    return { available: false, prefix: q.tierQueues.prefix, tiers: [], reason: (e as Error).message };
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export const queuesRouter = router({
  counts: procedure.query(({ ctx }) => queueCounts(ctx)),

  jobs: procedure
    .input(z.object({ tier: z.string().min(1).max(50), state: z.enum(JOB_STATES), limit: z.number().int().min(1).max(500).default(50) }))
    .query(async ({ ctx, input }): Promise<QueueJob[]> => {
      const q = requireQueues(ctx);
      return listQueueJobs({ queues: q.tierQueues, store: ctx.store }, input, { visible: (ids) => readableRunIds(ctx, ids), redis: (read) => withDeadline(q, read) });
    }),

  cancel: procedure.input(z.object({ runId: runRef })).mutation(async ({ ctx, input }): Promise<CancelResult> => {
    const q = requireQueues(ctx);
    const id = await authorizeRun(ctx, input.runId, 'write');
    const tq = q.tierQueues;
    const outcome = await withDeadline(q, cancelRun(id, { store: ctx.store, queues: tq, connection: tq.connection, prefix: tq.prefix }));
    const [run] = await toRunRows(ctx.store, [await ctx.store.getRun(id)]);
    return { outcome, run: run! };
  }),

  /**
   * Queues a new run of an existing run's code (its content-addressed bundle) with its data
   * snapshot and params, some params overridden, on any tier: "run it again", or "run it
   * on the nightly tier", from the portal. The worker checks the params against the
   * training definition and fails a bad one at once, without retries.
   */
  submit: procedure
    .input(
      z.object({
        runId: runRef,
        tier: z.string().min(1).max(50),
        params: z.record(key, z.union([z.string().max(10_000), z.number(), z.boolean()])).optional(),
      }),
    )
    .mutation(async ({ ctx, input }): Promise<RunRow> => {
      const q = requireQueues(ctx);
      const id = await authorizeRun(ctx, input.runId, 'write');
      const config = q.config ?? DEFAULT_PIPELINE_CONFIG;
      const tiers = Object.keys(config.tiers);
      if (!tiers.includes(input.tier)) throw new ValidationError(`unknown tier '${input.tier}' (${tiers.join(', ')})`);
      const tier = input.tier as keyof typeof config.tiers;
      const source = await ctx.store.getRun(id);
      if (!source.codeHash || !source.snapshotIds.length) {
        throw new TRPCError({
          code: 'PRECONDITION_FAILED',
          message: `run ${source.name} has no ${source.codeHash ? 'data snapshot' : 'code bundle'} to run again: it was tracked from a script, not queued; queue its module with 'cairn submit'`,
        });
      }
      const t = config.tiers[tier];
      const run = await withDeadline(
        q,
        createQueuedRun({
          store: ctx.store,
          queues: q.tierQueues,
          experimentId: source.experimentId,
          tier,
          code: { gitSha: source.gitSha, gitDirty: source.gitDirty, codeHash: source.codeHash },
          snapshotIds: source.snapshotIds,
          params: storedParams({ ...source.params, ...(input.params ?? {}) }),
          tags: { ...pick(source.tags, ['definition', 'module']), resubmitted_from: source.id },
          job: { priority: t.priority, attempts: t.retry.attempts, backoffMs: t.retry.backoffMs, strategy: t.retry.strategy },
        }),
      );
      const [row] = await toRunRows(ctx.store, [await ctx.store.getRun(run.id)]);
      return row!;
    }),

  /** The counts now, then again whenever they change (polled server side). */
  events: procedure
    .input(z.object({ intervalMs: z.number().int().min(200).max(10_000).default(1_000) }).optional())
    .subscription(async function* ({ ctx, input, signal }) {
      let last = '';
      for (;;) {
        const counts = await queueCounts(ctx);
        const text = JSON.stringify(counts);
        if (text !== last) {
          last = text;
          yield counts;
        }
        if (!ctx.queues || signal?.aborted) return;
        await sleep(input?.intervalMs ?? 1_000, signal);
        if (signal?.aborted) return;
      }
    }),
});

function pick(tags: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => tags[k] !== undefined).map((k) => [k, tags[k]!]));
}
