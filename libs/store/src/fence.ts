import { eq } from 'drizzle-orm';
import { FencedError, NotFoundError, runs } from '@cairn/schema';
import type { Db } from './db.ts';

/** Which attempt at which run a store view writes for. */
export interface Fence {
  runId: string;
  attempt: number;
}

/**
 * Inside the write's transaction: refuses it when a newer attempt has taken the run. The
 * run's row is locked (FOR NO KEY UPDATE) until the write commits, so a takeover (an
 * UPDATE of that row) waits for it: a write either lands before the takeover or is
 * refused, never after. Locking rather than sharing keeps two writes of one attempt (a
 * metrics batch and an end) from deadlocking on the upgrade.
 */
export async function checkFence(db: Db, fence: Fence): Promise<void> {
  const [row] = await db.select({ attempts: runs.attempts }).from(runs).where(eq(runs.id, fence.runId.toLowerCase())).for('no key update');
  if (!row) throw new NotFoundError('run', fence.runId);
  if (row.attempts !== fence.attempt) throw new FencedError(fence.runId, fence.attempt, row.attempts);
}
