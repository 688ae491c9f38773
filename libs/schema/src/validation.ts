import { z } from 'zod';
import { LINEAGE_KINDS, RUN_STATUSES } from './tables.ts';

export const MAX_KEY_LENGTH = 250;
export const MAX_PARAM_VALUE_BYTES = 64 * 1024;
export const MAX_NAME_LENGTH = 250;

// C0/C1 control characters and DEL: keys show up in tables, filters and file names.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/** A metric, param or tag key: 1–250 characters, no control characters, not padded. */
export const keySchema = z
  .string()
  .min(1, 'key must not be empty')
  .max(MAX_KEY_LENGTH, `key must be at most ${MAX_KEY_LENGTH} characters`)
  .refine((s) => !CONTROL_RE.test(s), 'key must not contain control characters')
  .refine((s) => s.trim() === s, 'key must not start or end with whitespace');

export const nameSchema = z
  .string()
  .min(1, 'name must not be empty')
  .max(MAX_NAME_LENGTH, `name must be at most ${MAX_NAME_LENGTH} characters`)
  .refine((s) => !CONTROL_RE.test(s), 'name must not contain control characters');

export const uuidSchema = z.uuid({ message: 'not a valid id (expected a UUID)' });

export const paramValueSchema = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => (typeof v === 'string' ? v : String(v)))
  .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_PARAM_VALUE_BYTES, 'param value exceeds 64 KiB');

export const paramsSchema = z.record(keySchema, paramValueSchema);

export const tagValueSchema = z.string().max(MAX_PARAM_VALUE_BYTES, 'tag value exceeds 64 KiB');
export const tagsSchema = z.record(keySchema, tagValueSchema);

/** NaN and ±Infinity are legitimate metric values (a diverged loss is information). */
// z.number() refuses NaN and ±Infinity, so this checks the type only.
export const metricValueSchema = z.custom<number>((v) => typeof v === 'number', { message: 'metric value must be a number' });

export const metricPointSchema = z.object({
  key: keySchema,
  value: metricValueSchema,
  step: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  wallMs: z.number().int().min(0).optional(),
});
export type MetricPointInput = z.input<typeof metricPointSchema>;

export const runStatusSchema = z.enum(RUN_STATUSES);
export const lineageKindSchema = z.enum(LINEAGE_KINDS);
export const lineageNodeSchema = z.object({ kind: lineageKindSchema, id: z.string().min(1).max(200) });
export type LineageNode = z.infer<typeof lineageNodeSchema>;

export const artifactSchema = z.object({
  path: z
    .string()
    .min(1)
    .max(1024)
    .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'artifact path must be relative, without ..')
    .refine((p) => !CONTROL_RE.test(p), 'artifact path must not contain control characters'),
  hash: z.string().regex(/^[0-9a-f]{16,128}$/, 'artifact hash must be lowercase hex'),
  size: z.number().int().min(0),
  mediaType: z.string().min(1).max(200).default('application/octet-stream'),
});
export type ArtifactInput = z.input<typeof artifactSchema>;

/** Turns a zod failure into one line: "key: message; other: message". */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}
