import { sql, type SQL } from 'drizzle-orm';
import { isUuid } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import type { OwnedKind } from './types.ts';

/**
 * The projects that own each object, for access checks: one query whatever the count.
 * A snapshot id can be recorded in datasets of several projects, and a code bundle run
 * by runs of several, so each id maps to a list; ids not found are left out.
 */
export async function projectsOf(db: Db, kind: OwnedKind, ids: readonly string[]): Promise<Record<string, string[]>> {
  const uuidKind = kind !== 'snapshot' && kind !== 'code';
  const wanted = [...new Set(ids.map((id) => (uuidKind ? id.toLowerCase() : id)))].filter((id) => (uuidKind ? isUuid(id) : id.length > 0 && id.length <= 200));
  if (wanted.length === 0) return {};
  const found = await rows<{ id: string; project: string }>(db, ownerQuery(kind, wanted));
  const out: Record<string, string[]> = {};
  for (const r of found) {
    const list = (out[r.id] ??= []);
    if (!list.includes(r.project)) list.push(r.project);
  }
  return out;
}

function ownerQuery(kind: OwnedKind, ids: string[]): SQL {
  switch (kind) {
    case 'project':
      return sql`SELECT id::text AS id, id::text AS project FROM projects WHERE id IN ${ids}`;
    case 'experiment':
      return sql`SELECT id::text AS id, project_id::text AS project FROM experiments WHERE id IN ${ids}`;
    case 'run':
      return sql`SELECT r.id::text AS id, e.project_id::text AS project FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id IN ${ids}`;
    case 'dataset':
      return sql`SELECT id::text AS id, project_id::text AS project FROM datasets WHERE id IN ${ids}`;
    case 'snapshot':
      return sql`SELECT DISTINCT s.id AS id, d.project_id::text AS project FROM snapshots s JOIN datasets d ON d.id = s.dataset_id WHERE s.id IN ${ids}`;
    case 'model':
      return sql`SELECT id::text AS id, project_id::text AS project FROM models WHERE id IN ${ids}`;
    case 'model_version':
      return sql`SELECT v.id::text AS id, m.project_id::text AS project FROM model_versions v JOIN models m ON m.id = v.model_id WHERE v.id IN ${ids}`;
    case 'deployment':
      return sql`SELECT d.id::text AS id, m.project_id::text AS project
                 FROM deployments d JOIN model_versions v ON v.id = d.model_version_id JOIN models m ON m.id = v.model_id WHERE d.id IN ${ids}`;
    case 'code':
      // Through the run's `ran_in` edges (indexed by source) rather than a scan of runs.code_hash.
      return sql`SELECT DISTINCT le.from_id AS id, e.project_id::text AS project
                 FROM lineage_edges le
                 JOIN runs r ON r.id = CASE WHEN le.to_kind = 'run' THEN le.to_id::uuid END
                 JOIN experiments e ON e.id = r.experiment_id
                 WHERE le.from_kind = 'code' AND le.to_kind = 'run' AND le.from_id IN ${ids}`;
  }
}
