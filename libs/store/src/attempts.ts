import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { ATTEMPT_OUTCOMES, InvalidStateError, NotFoundError, ValidationError, runAttempts, runs, type AttemptOutcome } from '@cairn/schema';
import type { Db } from './db.ts';
import { validate, validateId } from './validate.ts';
import type { Run, RunAttempt } from './types.ts';

const claimSchema = z.object({ workerId: z.string().min(1).max(300).nullish() }).strict();
const patchSchema = z
  .object({
    resumedFromStep: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
    outcome: z.enum(ATTEMPT_OUTCOMES).optional(),
    detail: z.string().max(2000).nullish(),
  })
  .strict();

/**
 * Takes a queued or running run for a new attempt, in one transaction: the run's attempt
 * number goes up by one in a single UPDATE guarded by its status (a compare-and-set under
 * the row's lock, so two takers never get the same number and an ended run is never
 * taken), the attempt still open is closed as superseded, and the new one is recorded.
 * The number returned is the fencing token of everything the taker writes for the run.
 */
export async function claimRun(db: Db, rawId: string, input: { workerId?: string | null } = {}, patch: Partial<typeof runs.$inferInsert> = {}): Promise<{ run: Run; attempt: number }> {
  const id = validateId(rawId);
  const { workerId } = validate(claimSchema, input, 'claim');
  const now = new Date();
  return db.transaction(async (tx) => {
    const [run] = await tx
      .update(runs)
      .set({ ...patch, status: 'running', startedAt: sql`coalesce(${runs.startedAt}, ${now})`, heartbeatAt: now, attempts: sql`${runs.attempts} + 1` })
      .where(and(eq(runs.id, id), inArray(runs.status, ['queued', 'running'])))
      .returning();
    if (!run) {
      const [existing] = await tx.select({ status: runs.status }).from(runs).where(eq(runs.id, id));
      if (!existing) throw new NotFoundError('run', id);
      throw new InvalidStateError(`run ${id} has ended (${existing.status}); start a new run instead`);
    }
    await recordAttempt(tx as unknown as Db, run.id, run.attempts, workerId ?? null, now);
    return { run, attempt: run.attempts };
  });
}

/** A new attempt's row; the one still open before it was taken over. */
export async function recordAttempt(db: Db, runId: string, attempt: number, workerId: string | null, now = new Date()): Promise<void> {
  await db
    .update(runAttempts)
    .set({ endedAt: now, outcome: 'superseded', detail: `taken over by attempt ${attempt}${workerId ? ` on ${workerId}` : ''}` })
    .where(and(eq(runAttempts.runId, runId), isNull(runAttempts.endedAt)));
  await db.insert(runAttempts).values({ runId, attempt, workerId, startedAt: now });
}

/**
 * Records the checkpoint an attempt resumed from, and how it ended. An outcome is set
 * once: an attempt already ended (superseded by a newer one, say) keeps its outcome.
 */
export async function updateAttempt(db: Db, runId: string, attempt: number, patch: { resumedFromStep?: number | null; outcome?: AttemptOutcome; detail?: string | null }): Promise<void> {
  validateId(runId);
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new ValidationError(`an attempt is a whole number ≥ 1, got ${String(attempt)}`);
  const p = validate(patchSchema, patch, 'attempt patch');
  const set: Partial<typeof runAttempts.$inferInsert> = {};
  if (p.resumedFromStep !== undefined) set.resumedFromStep = p.resumedFromStep;
  if (p.detail !== undefined) set.detail = p.detail;
  if (p.outcome) {
    set.outcome = p.outcome;
    set.endedAt = new Date();
  }
  if (Object.keys(set).length === 0) return;
  await db
    .update(runAttempts)
    .set(set)
    .where(and(eq(runAttempts.runId, runId.toLowerCase()), eq(runAttempts.attempt, attempt), isNull(runAttempts.endedAt)));
}

export async function listAttempts(db: Db, rawId: string): Promise<RunAttempt[]> {
  const runId = validateId(rawId);
  const list = await db.select().from(runAttempts).where(eq(runAttempts.runId, runId)).orderBy(asc(runAttempts.attempt));
  if (list.length === 0 && !(await db.select({ id: runs.id }).from(runs).where(eq(runs.id, runId)))[0]) throw new NotFoundError('run', runId);
  return list;
}
