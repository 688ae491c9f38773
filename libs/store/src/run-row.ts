import { eq } from 'drizzle-orm';
import { NotFoundError, runs } from '@cairn/schema';
import type { Db } from './db.ts';
import { validateId } from './validate.ts';
import type { Run } from './types.ts';

/** A run's own row, or NotFoundError: the check every write to a run's data starts with. */
export async function getRunRow(db: Db, id: string): Promise<Run> {
  const [run] = await db.select().from(runs).where(eq(runs.id, validateId(id)));
  if (!run) throw new NotFoundError('run', id);
  return run;
}
