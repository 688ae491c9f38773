import { sql } from 'drizzle-orm';
import { isUuid, type LineageKind, type LineageNode, type RunStatus } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import type { LineageNodeFacts } from './types.ts';

type Row = Record<string, unknown> & { id: string; projects: string[] | string | null };

/**
 * What a lineage graph shows on each node (a run's name and status, a snapshot's dataset,
 * a version's model and number, a deployment's environment and host, a code bundle's git
 * commit) and the projects that own it: one query per kind present, whatever the number
 * of nodes. Nodes not found are left out.
 */
export async function describeLineageNodes(db: Db, nodes: readonly LineageNode[]): Promise<LineageNodeFacts[]> {
  const byKind = new Map<LineageKind, string[]>();
  for (const n of nodes) {
    const uuidKind = n.kind !== 'snapshot' && n.kind !== 'code';
    if (uuidKind && !isUuid(n.id)) continue;
    const list = byKind.get(n.kind) ?? [];
    list.push(uuidKind ? n.id.toLowerCase() : n.id);
    byKind.set(n.kind, list);
  }
  const out: LineageNodeFacts[] = [];
  for (const [kind, list] of byKind) {
    const ids = [...new Set(list)];
    for (const r of await rows<Row>(db, factsQuery(kind, ids))) out.push(toFacts(kind, r));
  }
  return out;
}

function projectList(v: Row['projects']): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  // node-postgres returns arrays of unknown element types as '{a,b}' text.
  if (typeof v === 'string') return v.replace(/^\{|\}$/g, '').split(',').filter(Boolean);
  return [];
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

function toFacts(kind: LineageKind, r: Row): LineageNodeFacts {
  const facts: LineageNodeFacts = { kind, id: r.id, projectIds: projectList(r.projects) };
  if (r.name !== undefined) facts.name = str(r.name) ?? '';
  if (r.status !== undefined) facts.status = r.status as RunStatus;
  if (r.status_reason !== undefined) facts.statusReason = str(r.status_reason);
  if (r.experiment !== undefined) facts.experiment = str(r.experiment);
  if (r.datasets !== undefined) facts.datasets = projectList(r.datasets as Row['projects']);
  if (r.model !== undefined) facts.model = str(r.model);
  if (r.version !== undefined && r.version !== null) facts.version = Number(r.version);
  if (r.environment !== undefined) facts.environment = str(r.environment);
  if (r.host !== undefined) facts.host = str(r.host);
  if (r.git_sha !== undefined) facts.gitSha = str(r.git_sha);
  if (r.git_dirty !== undefined) facts.gitDirty = r.git_dirty === null ? null : Boolean(r.git_dirty);
  if (r.created_at !== undefined) facts.createdAt = date(r.created_at);
  if (r.stopped_at !== undefined) facts.stoppedAt = date(r.stopped_at);
  return facts;
}

function factsQuery(kind: LineageKind, ids: string[]) {
  switch (kind) {
    case 'run':
      return sql`SELECT r.id::text AS id, r.name, r.status, r.status_reason, r.git_sha, r.git_dirty, r.created_at, e.name AS experiment,
                   ARRAY[e.project_id::text] AS projects
                 FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id IN ${ids}`;
    case 'snapshot':
      return sql`SELECT s.id, array_agg(DISTINCT d.name) AS datasets, array_agg(DISTINCT d.project_id::text) AS projects, min(s.created_at) AS created_at
                 FROM snapshots s JOIN datasets d ON d.id = s.dataset_id WHERE s.id IN ${ids} GROUP BY s.id`;
    case 'dataset':
      return sql`SELECT id::text AS id, name, created_at, ARRAY[project_id::text] AS projects FROM datasets WHERE id IN ${ids}`;
    case 'model':
      return sql`SELECT id::text AS id, name, created_at, ARRAY[project_id::text] AS projects FROM models WHERE id IN ${ids}`;
    case 'model_version':
      return sql`SELECT v.id::text AS id, m.name AS model, v.version, v.created_at, ARRAY[m.project_id::text] AS projects
                 FROM model_versions v JOIN models m ON m.id = v.model_id WHERE v.id IN ${ids}`;
    case 'deployment':
      return sql`SELECT d.id::text AS id, d.environment, d.host, d.started_at AS created_at, d.stopped_at, m.name AS model, v.version,
                   ARRAY[m.project_id::text] AS projects
                 FROM deployments d JOIN model_versions v ON v.id = d.model_version_id JOIN models m ON m.id = v.model_id
                 WHERE d.id IN ${ids}`;
    case 'code':
      // The newest run that ran the bundle names its commit; every such run's project owns it.
      return sql`SELECT le.from_id AS id,
                   (array_agg(r.git_sha ORDER BY r.created_at DESC))[1] AS git_sha,
                   (array_agg(r.git_dirty ORDER BY r.created_at DESC))[1] AS git_dirty,
                   min(r.created_at) AS created_at,
                   array_agg(DISTINCT e.project_id::text) AS projects
                 FROM lineage_edges le
                 JOIN runs r ON r.id = CASE WHEN le.to_kind = 'run' THEN le.to_id::uuid END
                 JOIN experiments e ON e.id = r.experiment_id
                 WHERE le.from_kind = 'code' AND le.to_kind = 'run' AND le.from_id IN ${ids}
                 GROUP BY le.from_id`;
  }
}
