import { z } from 'zod';
import { NotFoundError, ValidationError } from '@cairn/schema';
import type { Db } from './db.ts';
import { paramValue } from './param-value.ts';
import { getRunDetails } from './run-details.ts';
import { getMetricSeriesMany } from './series.ts';
import { validate, validateId } from './validate.ts';
import type { ComparedRuns, CompareRunsOptions, ParamDiff, RunDetail } from './types.ts';

export const MAX_COMPARE_RUNS = 100;
/** Series a comparison reads at most (runs × keys): each is one downsampled read. */
export const MAX_COMPARE_SERIES = 1_000;

const optionsSchema = z.object({
  keys: z.union([z.array(z.string()), z.literal('all')]).optional(),
  maxPoints: z.number().int().optional(),
  maxSeries: z.number().int().min(1).max(MAX_COMPARE_SERIES).optional(),
  maxKeys: z.number().int().min(1).optional(),
  order: z.custom<(keys: readonly string[]) => string[]>((f) => typeof f === 'function', 'expected a function').optional(),
});

const alphabetical = (keys: readonly string[]): string[] => [...keys].sort((a, b) => a.localeCompare(b));

/**
 * Runs side by side: what the portal's compare page shows. 'all' keys fill the request
 * up to `maxSeries` series, best first by `order`; only series that exist are read.
 */
export async function compareRuns(db: Db, runIds: readonly string[], options: CompareRunsOptions = {}): Promise<ComparedRuns> {
  const o = validate(optionsSchema, options, 'comparison options');
  if (!Array.isArray(runIds) || runIds.length < 1 || runIds.length > MAX_COMPARE_RUNS) {
    throw new ValidationError(`compare from 1 to ${MAX_COMPARE_RUNS} runs`);
  }
  const ids = [...new Set(runIds.map((id) => validateId(id)))];
  const maxSeries = o.maxSeries ?? MAX_COMPARE_SERIES;
  const asked = o.keys === undefined ? [] : o.keys === 'all' ? null : [...new Set(o.keys)];
  if (asked && ids.length * asked.length > maxSeries) {
    throw new ValidationError(`${ids.length} runs × ${asked.length} metrics is more than ${maxSeries} series; compare fewer`);
  }
  const runs = await getRunDetails(db, ids);
  const missing = ids.find((id) => !runs.some((r) => r.id === id));
  if (missing) throw new NotFoundError('run', missing);

  const all = (o.order ?? alphabetical)([...new Set(runs.flatMap((r) => Object.keys(r.metrics)))]);
  const keys = asked ?? all.slice(0, Math.min(o.maxKeys ?? 50, Math.floor(maxSeries / ids.length)));
  // Only the series that exist: a run without a metric has nothing to read.
  const pairs = runs.flatMap((r) => keys.filter((k) => r.metrics[k]).map((k) => ({ runId: r.id, key: k })));
  const read = await getMetricSeriesMany(db, pairs, { maxPoints: o.maxPoints ?? 500 });
  const series: ComparedRuns['series'] = Object.fromEntries(ids.map((id) => [id, {}]));
  for (const s of read) if (s.total > 0) series[s.runId]![s.key] = { steps: s.points.map((p) => p.step), values: s.points.map((p) => p.value) };
  const moreKeys = asked ? [] : all.filter((k) => !keys.includes(k));
  return { runs, series, keys, moreKeys, paramDiff: diffParams(runs) };
}

/** Every param any run has, sorted by key, with each run's value and whether they differ. */
export function diffParams(runs: readonly Pick<RunDetail, 'id' | 'params'>[]): ParamDiff[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  return keys.map((key) => {
    const values = Object.fromEntries(
      runs.map((r) => {
        const text = r.params[key];
        return [r.id, text === undefined ? null : paramValue(text)];
      }),
    );
    const distinct = new Set(Object.values(values).map((v) => (v === null ? '\u0000missing' : `${typeof v}:${String(v)}`)));
    return { key, values, differs: distinct.size > 1 };
  });
}
