/**
 * Lineage graph → elkjs layered layout (left → right: what went in on the left,
 * what came out on the right) → node positions for React Flow. The elk call
 * itself lives in components/LineageGraph.tsx; these are the pure conversions.
 */

export const LINEAGE_KINDS = ['dataset', 'snapshot', 'code', 'run', 'model', 'model_version', 'deployment'] as const;
export type LineageKind = (typeof LINEAGE_KINDS)[number];
export type Direction = 'upstream' | 'downstream' | 'both';

export interface NodeRef {
  kind: string;
  id: string;
}

export interface GraphNode extends NodeRef {
  label?: string | null;
  sublabel?: string | null;
  status?: string | null;
}

export interface GraphEdge {
  from: NodeRef | string;
  to: NodeRef | string;
  relation: string;
}

export const NODE_WIDTH = 210;
export const NODE_HEIGHT = 58;

export function nodeKey(n: NodeRef): string {
  return `${n.kind}:${n.id}`;
}

/** Edge endpoints may come as node refs or as plain keys/ids: resolve against the nodes. */
export function resolveEdges(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): { id: string; source: string; target: string; relation: string }[] {
  const keys = new Set(nodes.map(nodeKey));
  const byId = new Map<string, string>();
  for (const n of nodes) if (!byId.has(n.id)) byId.set(n.id, nodeKey(n));
  const key = (ref: NodeRef | string): string | null => {
    if (typeof ref !== 'string') return keys.has(nodeKey(ref)) ? nodeKey(ref) : null;
    if (keys.has(ref)) return ref;
    return byId.get(ref) ?? null;
  };
  const out: { id: string; source: string; target: string; relation: string }[] = [];
  const seen = new Set<string>();
  for (const e of edges) {
    const source = key(e.from);
    const target = key(e.to);
    if (!source || !target) continue;
    const id = `${source}->${target}:${e.relation}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, source, target, relation: e.relation });
  }
  return out;
}

export interface ElkGraphInput {
  id: string;
  layoutOptions: Record<string, string>;
  children: { id: string; width: number; height: number }[];
  edges: { id: string; sources: string[]; targets: string[] }[];
}

export function toElkGraph(nodes: readonly GraphNode[], edges: ReturnType<typeof resolveEdges>): ElkGraphInput {
  return {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.layered.spacing.nodeNodeBetweenLayers': '70',
      'elk.spacing.nodeNode': '24',
      'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
      'elk.edgeRouting': 'SPLINES',
    },
    children: nodes.map((n) => ({ id: nodeKey(n), width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  };
}

export function positionsFromElk(layout: { children?: { id: string; x?: number; y?: number }[] }): Map<string, { x: number; y: number }> {
  const m = new Map<string, { x: number; y: number }>();
  for (const c of layout.children ?? []) m.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
  return m;
}

/** The portal page of a lineage node, where it has one. */
export function pageOf(n: GraphNode): string | null {
  switch (n.kind) {
    case 'run':
      return `/runs/${encodeURIComponent(n.id)}`;
    case 'dataset':
      return `/datasets/${encodeURIComponent(n.label ?? n.id)}`;
    case 'model': {
      return `/models/${encodeURIComponent(n.label ?? n.id)}`;
    }
    case 'model_version': {
      const name = (n.label ?? '').split('@')[0];
      return name ? `/models/${encodeURIComponent(name)}` : null;
    }
    default:
      return null;
  }
}

export function lineageHref(kind: string, id: string, direction?: Direction): string {
  const q = new URLSearchParams({ kind, id });
  if (direction && direction !== 'both') q.set('direction', direction);
  return `/lineage?${q.toString()}`;
}

export function kindLabel(kind: string): string {
  return kind === 'model_version' ? 'model version' : kind;
}
