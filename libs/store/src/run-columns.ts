import { sql } from 'drizzle-orm';
import { metricSummaries, params, runTags } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { getExperiment } from './experiments.ts';
import type { RunColumns } from './types.ts';

/** Keys listed per kind at most; a table with more columns than this is not one a person reads. */
export const MAX_COLUMN_KEYS = 2_000;
const SAMPLE_RUNS = 500;

type KeyTable = typeof params | typeof metricSummaries | typeof runTags;

/**
 * The param, metric and tag keys that runs have, for a table's column picker. Each kind
 * is a skip scan over its (key, …) index, one probe per distinct key, so 100,000 runs
 * with 20 params cost 20 probes rather than reading 2,000,000 rows. With experiments,
 * each key found is kept when one of their runs has it.
 */
export async function runColumns(db: Db, input: { experimentIds?: string[] } = {}): Promise<RunColumns> {
  const experimentIds = input.experimentIds?.length ? await Promise.all(input.experimentIds.map(async (e) => (await getExperiment(db, e)).id)) : null;
  const [p, m, t] = await Promise.all([keysOf(db, params, experimentIds), keysOf(db, metricSummaries, experimentIds), keysOf(db, runTags, experimentIds)]);
  return { params: p, metrics: m, tags: t };
}

async function keysOf(db: Db, table: KeyTable, experimentIds: string[] | null): Promise<string[]> {
  const all = await rows<{ key: string }>(
    db,
    sql`WITH RECURSIVE k(key, n) AS (
          (SELECT ${table.key}, 1 FROM ${table} ORDER BY ${table.key} LIMIT 1)
          UNION ALL
          SELECT (SELECT ${table.key} FROM ${table} WHERE ${table.key} > k.key ORDER BY ${table.key} LIMIT 1), k.n + 1
          FROM k WHERE k.key IS NOT NULL AND k.n < ${MAX_COLUMN_KEYS}
        )
        SELECT key FROM k WHERE key IS NOT NULL`,
  );
  // One order on both drivers, whatever the database's collation.
  const keys = all.map((r) => r.key).sort();
  if (!experimentIds || keys.length === 0) return keys;
  const ids = experimentIds;
  // Most keys are on most of an experiment's runs: a few hundred of its runs (primary-key
  // probes) find them. The rest are read in one pass over their own rows.
  const sampled = await rows<{ key: string }>(
    db,
    sql`SELECT DISTINCT x.key FROM (SELECT id FROM runs WHERE experiment_id IN ${ids} LIMIT ${SAMPLE_RUNS}) r JOIN ${table} x ON x.run_id = r.id`,
  );
  const found = new Set(sampled.map((r) => r.key));
  const rest = keys.filter((k) => !found.has(k));
  if (rest.length) {
    const more = await rows<{ key: string }>(
      db,
      sql`SELECT DISTINCT x.key FROM ${table} x WHERE x.key IN ${rest} AND x.run_id IN (SELECT id FROM runs WHERE experiment_id IN ${ids})`,
    );
    for (const r of more) found.add(r.key);
  }
  return keys.filter((k) => found.has(k));
}
