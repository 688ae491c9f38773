import { and, asc, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import { runs } from '@cairn/schema';
import type { Db } from './db.ts';
import { validate, validateId } from './validate.ts';
import type { Run } from './types.ts';

/**
 * A BullMQ key prefix as the pipeline names its queues (`<prefix>-<tier>`): BullMQ
 * refuses a queue name with a colon, so a prefix with one could never have been used.
 */
export const queuePrefixSchema = z
  .string()
  .min(1, 'a queue prefix is not empty')
  .max(200, 'a queue prefix is at most 200 characters')
  .refine((s) => !s.includes(':'), 'a queue prefix has no colon (BullMQ refuses one in a queue name)');

const pageSchema = z
  .object({
    prefix: queuePrefixSchema,
    after: z.string().nullish(),
    limit: z.number().int().min(1).max(1_000).default(500),
  })
  .strict();

export type QueuedRunsInput = z.input<typeof pageSchema>;

/**
 * The runs still `queued` that the pipeline queued under `prefix`, by id, a page at a
 * time (pass the last id as `after`). Read from the run's queue_prefix, which only the
 * pipeline writes, never from tags. Runs of archived experiments are included: their
 * jobs are queued all the same.
 */
export async function listQueuedRuns(db: Db, input: QueuedRunsInput): Promise<Run[]> {
  const q = validate(pageSchema, input, 'queued-runs page');
  return db
    .select()
    .from(runs)
    .where(and(eq(runs.status, 'queued'), eq(runs.queuePrefix, q.prefix), q.after ? gt(runs.id, validateId(q.after)) : undefined))
    .orderBy(asc(runs.id))
    .limit(q.limit);
}
