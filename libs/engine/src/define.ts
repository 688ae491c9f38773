import type { z } from 'zod';
import type { TrainingDefinition } from './types.ts';

/**
 * Declares a training definition; a module default-exports the result. Only types are
 * added here: validation of params happens when a run starts (see resolveParams).
 */
export function defineTraining<S extends z.ZodType<Record<string, unknown>>>(def: TrainingDefinition<S>): TrainingDefinition<S> {
  return def;
}
