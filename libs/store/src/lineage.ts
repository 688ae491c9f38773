import { sql } from 'drizzle-orm';
import { ValidationError, lineageEdges, lineageNodeSchema, type LineageKind, type LineageNode } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { validate } from './validate.ts';
import type { LineageEdge, LineageGraph } from './types.ts';

const RELATION_RE = /^[a-z][a-z0-9_]{0,49}$/;
export const MAX_LINEAGE_DEPTH = 100;

export async function addLineageEdge(db: Db, from: LineageNode, to: LineageNode, relation: string): Promise<void> {
  const f = validate(lineageNodeSchema, from, 'lineage source');
  const t = validate(lineageNodeSchema, to, 'lineage target');
  if (!RELATION_RE.test(relation)) throw new ValidationError(`invalid lineage relation '${relation.slice(0, 60)}': lowercase letters, digits and _`);
  if (f.kind === t.kind && f.id === t.id) throw new ValidationError('a lineage edge cannot point at its own source');
  await db
    .insert(lineageEdges)
    .values({ fromKind: f.kind, fromId: f.id, toKind: t.kind, toId: t.id, relation })
    .onConflictDoNothing();
}

interface EdgeRow {
  from_kind: LineageKind;
  from_id: string;
  to_kind: LineageKind;
  to_id: string;
  relation: string;
  created_at: Date | string;
}

/**
 * Walks the edge graph from a node with a recursive CTE. Upstream follows edges
 * backwards (what went into it), downstream forwards (what was made from it).
 * UNION drops identical revisits and the depth bound ends cycles.
 */
async function walk(db: Db, node: LineageNode, direction: 'upstream' | 'downstream', depth: number): Promise<EdgeRow[]> {
  const query =
    direction === 'downstream'
      ? sql`WITH RECURSIVE reach(kind, id, depth) AS (
              SELECT ${node.kind}::text, ${node.id}::text, 0
              UNION
              SELECT e.to_kind, e.to_id, r.depth + 1 FROM lineage_edges e
              JOIN reach r ON e.from_kind = r.kind AND e.from_id = r.id
              WHERE r.depth < ${depth}
            )
            SELECT DISTINCT e.from_kind, e.from_id, e.to_kind, e.to_id, e.relation, e.created_at
            FROM lineage_edges e JOIN reach r ON e.from_kind = r.kind AND e.from_id = r.id
            WHERE r.depth < ${depth}`
      : sql`WITH RECURSIVE reach(kind, id, depth) AS (
              SELECT ${node.kind}::text, ${node.id}::text, 0
              UNION
              SELECT e.from_kind, e.from_id, r.depth + 1 FROM lineage_edges e
              JOIN reach r ON e.to_kind = r.kind AND e.to_id = r.id
              WHERE r.depth < ${depth}
            )
            SELECT DISTINCT e.from_kind, e.from_id, e.to_kind, e.to_id, e.relation, e.created_at
            FROM lineage_edges e JOIN reach r ON e.to_kind = r.kind AND e.to_id = r.id
            WHERE r.depth < ${depth}`;
  return rows<EdgeRow>(db, query);
}

export async function lineage(
  db: Db,
  node: LineageNode,
  options: { direction?: 'upstream' | 'downstream' | 'both'; depth?: number } = {},
): Promise<LineageGraph> {
  const root = validate(lineageNodeSchema, node, 'lineage node');
  const direction = options.direction ?? 'both';
  const depth = options.depth ?? MAX_LINEAGE_DEPTH;
  if (!Number.isInteger(depth) || depth < 1 || depth > MAX_LINEAGE_DEPTH) throw new ValidationError(`lineage depth must be 1 to ${MAX_LINEAGE_DEPTH}`);
  const found: EdgeRow[] = [];
  if (direction !== 'downstream') found.push(...(await walk(db, root, 'upstream', depth)));
  if (direction !== 'upstream') found.push(...(await walk(db, root, 'downstream', depth)));
  const edges = new Map<string, LineageEdge>();
  const nodes = new Map<string, LineageNode>([[`${root.kind}:${root.id}`, root]]);
  for (const e of found) {
    const k = `${e.from_kind}:${e.from_id}>${e.to_kind}:${e.to_id}:${e.relation}`;
    if (edges.has(k)) continue;
    const from = { kind: e.from_kind, id: e.from_id };
    const to = { kind: e.to_kind, id: e.to_id };
    edges.set(k, { from, to, relation: e.relation, createdAt: new Date(e.created_at) });
    nodes.set(`${from.kind}:${from.id}`, from);
    nodes.set(`${to.kind}:${to.id}`, to);
  }
  return { root, nodes: [...nodes.values()], edges: [...edges.values()] };
}

export { lineageEdges };
