import type { z } from 'zod';
import { ValidationError, formatZodError, uuidSchema } from '@cairn/schema';

/** Parses with a zod schema and throws a ValidationError naming what was wrong. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${formatZodError(r.error)}`);
  return r.data;
}

export function validateId(id: unknown, what = 'run id'): string {
  if (typeof id !== 'string' || !uuidSchema.safeParse(id).success) {
    throw new ValidationError(`invalid ${what} '${String(id).slice(0, 80)}': expected a UUID`);
  }
  return id.toLowerCase();
}
