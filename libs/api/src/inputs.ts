import { z } from 'zod';

/** An id or a name (experiments, datasets, models take either). */
export const ref = z.string().trim().min(1, 'must not be empty').max(250, 'must be at most 250 characters');

/** A run id, or a unique prefix of at least 4 hex digits, as the CLI accepts. */
export const runRef = z
  .string()
  .trim()
  .min(4, 'give a run id or at least 4 of its leading hex digits')
  .max(36, 'a run id is at most 36 characters');

/** A project name, for procedures that default to the `default` project. */
export const projectName = z.string().trim().min(1).max(250).optional();

export const key = z.string().min(1, 'a key must not be empty').max(250, 'a key is at most 250 characters');

export const markdown = z.string().min(1, 'a note needs some text').max(1024 * 1024, 'a note is at most 1 MiB');
