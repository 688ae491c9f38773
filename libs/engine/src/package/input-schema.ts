import { ValidationError, formatZodError } from '@cairn/schema';
import { z } from 'zod';
import type { ModelCard } from '../export.ts';

/**
 * What a caller must send to a packaged model, and what the package does to it before
 * tfjs sees it. A table schema carries the train split's normalisation so raw feature
 * values get exactly the transform loadTable applied in training.
 */
export interface TableInputSchema {
  kind: 'table';
  /** Feature names, in the order of the model's input columns. */
  features: string[];
  task: 'classification' | 'regression';
  classes?: string[];
  /** As loadTable returns it: x' = (x - offset) / scale; a null value becomes fill (when fill exists) first. */
  normalization: { method: 'standard' | 'minmax' | 'none'; offset: number[]; scale: number[]; fill?: number[] };
}

export interface TensorInputSchema {
  kind: 'tensor';
  /** One example's shape, without the batch axis. */
  inputShape: number[];
  /** Classification when the card names classes or a class count, else regression. */
  task: 'classification' | 'regression';
  classes?: string[];
}

export type InputSchema = TableInputSchema | TensorInputSchema;

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const classesSchema = z.array(z.string()).min(1, 'expected at least one class name');

const tableSchema = z
  .object({
    kind: z.literal('table'),
    features: z.array(z.string().min(1)).min(1, 'expected at least one feature'),
    task: z.enum(['classification', 'regression']),
    classes: classesSchema.optional(),
    normalization: z.object({
      method: z.enum(['standard', 'minmax', 'none']),
      offset: z.array(finite),
      // A zero scale would divide by zero at predict time; loadTable never writes one.
      scale: z.array(finite.refine((v) => v !== 0, 'a scale must not be 0')),
      fill: z.array(finite).optional(),
    }),
  })
  .superRefine((s, ctx) => {
    const k = s.features.length;
    if (new Set(s.features).size !== k) ctx.addIssue({ code: 'custom', path: ['features'], message: 'feature names must be unique' });
    for (const key of ['offset', 'scale', 'fill'] as const) {
      const arr = s.normalization[key];
      if (arr && arr.length !== k) ctx.addIssue({ code: 'custom', path: ['normalization', key], message: `expected ${k} values (one per feature), got ${arr.length}` });
    }
    // loadTable always records the class list of a classifier; without it labels are unknowable.
    if (s.task === 'classification' && !s.classes) ctx.addIssue({ code: 'custom', path: ['classes'], message: 'a classification table needs its class names' });
  });

const tensorSchema = z.object({
  kind: z.literal('tensor'),
  inputShape: z.array(z.number().int().positive()).min(1, 'expected at least one dimension'),
  task: z.enum(['classification', 'regression']),
  classes: classesSchema.optional(),
});

/** Validates input-schema.json as read from a package. */
export const inputSchemaSchema = z.discriminatedUnion('kind', [tableSchema, tensorSchema]);

export function parseInputSchema(value: unknown, what = 'input schema'): InputSchema {
  const r = inputSchemaSchema.safeParse(value);
  if (!r.success) throw new ValidationError(`${what}: ${formatZodError(r.error)}`);
  return r.data;
}

// Only what packaging needs from a card; other fields are the card's own business.
const cardSchema = z.object({ name: z.string().min(1), data: z.record(z.string(), z.unknown()) }).loose();

/** Validates the parts of a model card a package depends on. */
export function checkCard(card: unknown, what = 'model card'): ModelCard {
  const r = cardSchema.safeParse(card);
  if (!r.success) throw new ValidationError(`${what}: ${formatZodError(r.error)}`);
  return card as ModelCard;
}

/**
 * The input schema a card implies. card.data is the training data's info: a TableInfo
 * (features, task, normalization) gives a table schema, anything else a tensor schema
 * from its inputShape. Throws a ValidationError naming each missing or malformed field.
 */
export function inputSchemaFromCard(card: ModelCard): InputSchema {
  const data = checkCard(card).data;
  // A card carrying any table field is meant as a table: a missing sibling is an error, not a fallback.
  const isTable = 'features' in data || 'normalization' in data;
  const candidate = isTable
    ? { kind: 'table', features: data.features, task: data.task, classes: data.classes, normalization: data.normalization }
    : { kind: 'tensor', inputShape: data.inputShape, task: data.classes !== undefined || data.numClasses !== undefined ? 'classification' : 'regression', classes: data.classes };
  const schema = parseInputSchema(candidate, 'model card data');
  if (schema.kind === 'table' && Array.isArray(data.inputShape)) {
    const shape = data.inputShape as unknown[];
    if (shape.length !== 1 || shape[0] !== schema.features.length) {
      throw new ValidationError(`model card data: inputShape ${JSON.stringify(shape)} does not match ${schema.features.length} features`);
    }
  }
  // Keep only the fields the schema defines (zod strips the rest), with no undefined keys in the JSON.
  return JSON.parse(JSON.stringify(schema)) as InputSchema;
}

/** One example's shape: [features] for a table. */
export function exampleShape(schema: InputSchema): number[] {
  return schema.kind === 'table' ? [schema.features.length] : schema.inputShape;
}
