import type { z } from 'zod';
import { ValidationError, formatZodError, keySchema } from '@cairn/schema';
import type { MetricPoint } from '@cairn/store';

/** Parses with a zod schema; the message reads as the store's would: "invalid params: lr: …". */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError(`invalid ${what}: ${formatZodError(r.error)}`);
  return r.data;
}

// Keys repeat every step; remember the ones already checked (bounded).
const goodKeys = new Set<string>();
const GOOD_KEYS_MAX = 10_000;

export function checkMetricKey(key: string): void {
  if (goodKeys.has(key)) return;
  const r = keySchema.safeParse(key);
  if (!r.success) {
    const shown = key.length > 60 ? `${key.slice(0, 60)}…` : key;
    throw new ValidationError(`invalid metric key ${JSON.stringify(shown)}: ${formatZodError(r.error)}`);
  }
  if (goodKeys.size >= GOOD_KEYS_MAX) goodKeys.clear();
  goodKeys.add(key);
}

export function checkStep(step: unknown): number {
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new ValidationError(`invalid step ${describe(step)}: a step is a whole number ≥ 0`);
  }
  return step;
}

/**
 * The points of one `run.log()` call, all checked before any is buffered: keys per
 * keySchema, values numbers (NaN and ±Infinity included).
 */
export function metricPoints(metrics: unknown, step: number, wallMs: number): MetricPoint[] {
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw new ValidationError(`run.log() takes an object of metric values, e.g. run.log({ loss: 0.3 }), not ${describe(metrics)}`);
  }
  const points: MetricPoint[] = [];
  for (const key of Object.keys(metrics)) {
    const value = (metrics as Record<string, unknown>)[key];
    checkMetricKey(key);
    if (typeof value !== 'number') {
      throw new ValidationError(`metric '${key}' must be a number, not ${describe(value)} (NaN and ±Infinity are fine)`);
    }
    points.push({ key, value, step, wallMs });
  }
  return points;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `the bigint ${v}n (convert it with Number())`;
  return `a ${typeof v}`;
}
