import { sql } from 'drizzle-orm';
import { isUuid } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import type { BestRun, ExperimentObjective } from './types.ts';

/**
 * Each experiment's best run on its objective: the finished or abandoned run whose
 * metric's last value is highest (maximize) or lowest (minimize), NaN and ±Infinity
 * left out. One query per direction; each experiment is a LATERAL probe that stops at
 * its first row, so the planner can walk the (key, last) index instead of sorting.
 */
export async function bestRuns(db: Db, objectives: readonly ExperimentObjective[]): Promise<BestRun[]> {
  const valid = objectives.filter((o) => isUuid(o.experimentId) && typeof o.metric === 'string' && o.metric.length > 0);
  const out: BestRun[] = [];
  for (const direction of ['maximize', 'minimize'] as const) {
    const group = valid.filter((o) => o.direction === direction);
    if (group.length === 0) continue;
    const list = sql.join(
      group.map((o) => sql`(${o.experimentId.toLowerCase()}::uuid, ${o.metric}::text)`),
      sql`, `,
    );
    const order = direction === 'maximize' ? sql`s.last DESC` : sql`s.last ASC`;
    const found = await rows<{ experiment_id: string; key: string; run_id: string; value: number | string }>(
      db,
      sql`SELECT o.experiment_id, o.key, b.run_id, b.value
          FROM (VALUES ${list}) AS o(experiment_id, key)
          CROSS JOIN LATERAL (
            SELECT s.run_id, s.last AS value
            FROM metric_summaries s JOIN runs r ON r.id = s.run_id
            WHERE s.key = o.key AND r.experiment_id = o.experiment_id AND r.status IN ('finished', 'abandoned')
              AND s.last NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)
            ORDER BY ${order}, s.run_id
            LIMIT 1
          ) b`,
    );
    for (const r of found) out.push({ experimentId: r.experiment_id, metric: r.key, direction, runId: r.run_id, value: Number(r.value) });
  }
  return out;
}
