import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import {
  ParamConflictError,
  artifactSchema,
  artifacts,
  newId,
  notes,
  params as paramsTable,
  paramsSchema,
  runTags,
  tagsSchema,
  keySchema,
  ValidationError,
} from '@cairn/schema';
import type { Db } from './db.ts';
import { getExperiment } from './experiments.ts';
import { getRunRow } from './run-row.ts';
import { paramValueNum } from './filter/index.ts';
import { validate, validateId } from './validate.ts';
import type { Artifact, Note } from './types.ts';

const MAX_NOTE_BYTES = 1024 * 1024;

/**
 * Inserts params, all or nothing. A key already set to the same value is fine (a
 * retried call); a different value is a ParamConflictError and nothing is written.
 */
export async function insertParams(db: Db, runId: string, input: Record<string, string | number | boolean>): Promise<void> {
  const parsed = validate(paramsSchema, input, 'params');
  const entries = Object.entries(parsed);
  if (entries.length === 0) return;
  await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(paramsTable)
      .values(entries.map(([key, value]) => ({ runId, key, value, valueNum: paramValueNum(value) })))
      .onConflictDoNothing()
      .returning({ key: paramsTable.key });
    if (inserted.length === entries.length) return;
    const done = new Set(inserted.map((r) => r.key));
    const rest = entries.filter(([k]) => !done.has(k));
    const existing = await tx
      .select()
      .from(paramsTable)
      .where(and(eq(paramsTable.runId, runId), inArray(paramsTable.key, rest.map(([k]) => k))));
    for (const [key, value] of rest) {
      const old = existing.find((e) => e.key === key);
      if (old && old.value !== value) throw new ParamConflictError(runId, key, old.value, value);
    }
  });
}

export async function logParams(db: Db, runId: string, input: Record<string, string | number | boolean>): Promise<void> {
  await getRunRow(db, runId);
  await insertParams(db, runId, input);
}

export async function upsertTags(db: Db, runId: string, tags: Record<string, string>): Promise<void> {
  const parsed = validate(tagsSchema, tags, 'tags');
  const values = Object.entries(parsed).map(([key, value]) => ({ runId, key, value }));
  if (values.length === 0) return;
  await db
    .insert(runTags)
    .values(values)
    .onConflictDoUpdate({ target: [runTags.runId, runTags.key], set: { value: sql`excluded.value` } });
}

export async function setTags(db: Db, runId: string, tags: Record<string, string>): Promise<void> {
  await getRunRow(db, runId);
  await upsertTags(db, runId, tags);
}

export async function deleteTag(db: Db, runId: string, key: string): Promise<void> {
  validate(keySchema, key, 'tag key');
  await getRunRow(db, runId);
  await db.delete(runTags).where(and(eq(runTags.runId, runId), eq(runTags.key, key)));
}

type Target = { kind: 'run' | 'experiment'; id: string };

async function assertTarget(db: Db, target: Target): Promise<void> {
  if (target.kind === 'run') await getRunRow(db, target.id);
  else if (target.kind === 'experiment') await getExperiment(db, validateId(target.id, 'experiment id'));
  else throw new ValidationError(`notes attach to a run or an experiment, not '${String((target as Target).kind)}'`);
}

export async function addNote(db: Db, target: Target, body: string, author?: string): Promise<Note> {
  if (typeof body !== 'string' || body.trim() === '') throw new ValidationError('a note needs some text');
  if (Buffer.byteLength(body) > MAX_NOTE_BYTES) throw new ValidationError('a note is at most 1 MiB');
  await assertTarget(db, target);
  const [note] = await db
    .insert(notes)
    .values({ id: newId(), targetKind: target.kind, targetId: target.id.toLowerCase(), body, author: author ?? null })
    .returning();
  return note!;
}

export async function listNotes(db: Db, target: Target): Promise<Note[]> {
  await assertTarget(db, target);
  return db
    .select()
    .from(notes)
    .where(and(eq(notes.targetKind, target.kind), eq(notes.targetId, target.id.toLowerCase())))
    .orderBy(asc(notes.createdAt), asc(notes.id));
}

export async function logArtifact(
  db: Db,
  runId: string,
  input: { path: string; hash: string; size: number; mediaType?: string },
): Promise<Artifact> {
  const a = validate(artifactSchema, input, 'artifact');
  await getRunRow(db, runId);
  const [row] = await db
    .insert(artifacts)
    .values({ runId, path: a.path, hash: a.hash, size: a.size, mediaType: a.mediaType })
    .onConflictDoUpdate({
      target: [artifacts.runId, artifacts.path],
      set: { hash: a.hash, size: a.size, mediaType: a.mediaType, createdAt: new Date() },
    })
    .returning();
  return row!;
}

export async function listArtifacts(db: Db, runId: string): Promise<Artifact[]> {
  await getRunRow(db, validateId(runId));
  return db.select().from(artifacts).where(eq(artifacts.runId, runId)).orderBy(asc(artifacts.path));
}
