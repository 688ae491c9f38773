import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '@cairn/schema';
import { loadFailure, withLocatedErrors } from './definition-errors.ts';
import type { TrainingDefinition } from './types.ts';

export interface LoadedDefinition {
  definition: TrainingDefinition;
  path: string;
  /** sha256 of the module's source, for the model card and lineage. */
  hash: string;
}

/**
 * Imports a training module (TypeScript works when the process runs under tsx, as the
 * CLI does) and checks that it default-exports a definition, so a wrong file fails with
 * one clear line instead of a TypeError halfway through a run.
 */
export async function loadDefinition(file: string): Promise<LoadedDefinition> {
  const path = resolve(file);
  let source: Buffer;
  try {
    source = readFileSync(path);
  } catch (e) {
    throw new ValidationError(`cannot read training module ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    throw loadFailure(file, path, source.toString('utf8'), e);
  }
  const def = mod.default as Partial<TrainingDefinition> | undefined;
  const problems: string[] = [];
  if (!def || typeof def !== 'object') problems.push('it has no default export');
  else {
    if (typeof def.name !== 'string' || !def.name) problems.push('name is missing');
    if (!def.params || typeof (def.params as { safeParse?: unknown }).safeParse !== 'function') problems.push('params is not a zod schema');
    for (const fn of ['data', 'model', 'compile'] as const) if (typeof def[fn] !== 'function') problems.push(`${fn}() is missing`);
    if (!def.objective || typeof def.objective.metric !== 'string' || !['minimize', 'maximize'].includes(def.objective.direction)) problems.push("objective must be { metric, direction: 'minimize' | 'maximize' }");
  }
  if (problems.length) throw new ValidationError(`${file} must default-export defineTraining({...}): ${problems.join('; ')}`);
  return { definition: withLocatedErrors(def as TrainingDefinition, path, source.toString('utf8')), path, hash: createHash('sha256').update(source).digest('hex') };
}
