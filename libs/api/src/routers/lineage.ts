import { z } from 'zod';
import { LINEAGE_KINDS, NotFoundError, type LineageKind, type LineageNode, type RunStatus } from '@cairn/schema';
import type { LineageNodeFacts, Store } from '@cairn/store';
import { authorizeRun, isLocal, nodeVisible, type Viewer } from '../access.ts';
import { procedure, router } from '../trpc.ts';

export interface LineageNodeView {
  /** `kind:id`, what edges refer to. */
  key: string;
  kind: LineageKind;
  id: string;
  label: string;
  sublabel?: string;
  status?: RunStatus;
}

export interface LineageView {
  root: LineageNodeView;
  nodes: LineageNodeView[];
  edges: { from: string; to: string; relation: string }[];
  /** More nodes were reachable than MAX_GRAPH_NODES; the nearest ones are shown. */
  truncated: boolean;
}

/** A graph larger than this is not one a person reads (a dataset used by thousands of runs); the nearest nodes are kept. */
export const MAX_GRAPH_NODES = 2_000;

const short = (id: string) => id.slice(0, 12);
const keyOf = (n: LineageNode) => `${n.kind}:${n.id}`;

function label(node: LineageNode, f: LineageNodeFacts | undefined): LineageNodeView {
  const base = { key: keyOf(node), kind: node.kind, id: node.id };
  if (!f) return { ...base, label: short(node.id) };
  switch (node.kind) {
    case 'run':
      return { ...base, label: f.name ?? short(node.id), ...(f.experiment ? { sublabel: f.experiment } : {}), ...(f.status ? { status: f.status } : {}) };
    case 'snapshot':
      return { ...base, label: short(node.id), ...(f.datasets?.length ? { sublabel: f.datasets.join(', ') } : {}) };
    case 'model_version':
      return { ...base, label: `${f.model ?? '?'}@${f.version ?? '?'}` };
    case 'deployment':
      return { ...base, label: f.environment ?? short(node.id), sublabel: `${f.host ?? ''}${f.stoppedAt ? ' (stopped)' : ''}` };
    case 'code':
      return { ...base, label: short(node.id), ...(f.gitSha ? { sublabel: `git ${f.gitSha.slice(0, 10)}${f.gitDirty ? ' (dirty)' : ''}` } : {}) };
    case 'dataset':
    case 'model':
      return { ...base, label: f.name ?? short(node.id) };
  }
}

/** The node as the store keys it: full run and snapshot ids from prefixes, uuids in lower case. */
async function resolveRoot(ctx: { store: Store; viewer: Viewer }, node: LineageNode): Promise<LineageNode> {
  if (node.kind === 'run') return { kind: 'run', id: await authorizeRun(ctx, node.id, 'read') };
  if (node.kind === 'snapshot') return { kind: 'snapshot', id: await ctx.store.resolveSnapshotId(node.id) };
  return { kind: node.kind, id: node.kind === 'code' ? node.id : node.id.toLowerCase() };
}

async function graph(ctx: { store: Store; viewer: Viewer }, input: { node: LineageNode; direction: 'upstream' | 'downstream' | 'both'; depth: number }): Promise<LineageView> {
  const notFound = () => new NotFoundError(input.node.kind.replace('_', ' '), input.node.id);
  const root = await resolveRoot(ctx, input.node);
  const [rootFacts] = await ctx.store.describeLineageNodes([root]);
  if (!rootFacts || !nodeVisible(ctx.viewer, rootFacts.projectIds)) throw notFound();
  const g = await ctx.store.lineage(root, { direction: input.direction, depth: input.depth });
  const nearest = nearestNodes(root, g.nodes, g.edges, MAX_GRAPH_NODES);
  const facts = new Map((await ctx.store.describeLineageNodes(nearest)).map((f) => [`${f.kind}:${f.id}`, f]));
  // What the viewer may not read is left out, with the edges that touch it; so is what
  // no longer exists (a deleted run), except locally where showing its id harms nobody.
  const shown = nearest.filter((n) => {
    const f = facts.get(keyOf(n));
    return f ? nodeVisible(ctx.viewer, f.projectIds) : isLocal(ctx.viewer);
  });
  const keys = new Set(shown.map(keyOf));
  return {
    root: label(root, rootFacts),
    nodes: shown.map((n) => label(n, facts.get(keyOf(n)))),
    edges: g.edges.filter((e) => keys.has(keyOf(e.from)) && keys.has(keyOf(e.to))).map((e) => ({ from: keyOf(e.from), to: keyOf(e.to), relation: e.relation })),
    truncated: nearest.length < g.nodes.length,
  };
}

/** The `max` nodes nearest the root (breadth first over edges either way), so a cut graph stays connected. */
export function nearestNodes(root: LineageNode, nodes: readonly LineageNode[], edges: readonly { from: LineageNode; to: LineageNode }[], max: number): LineageNode[] {
  if (nodes.length <= max) return [...nodes];
  const byKey = new Map(nodes.map((n) => [keyOf(n), n]));
  const next = new Map<string, string[]>();
  const link = (a: string, b: string) => {
    const list = next.get(a);
    if (list) list.push(b);
    else next.set(a, [b]);
  };
  for (const e of edges) {
    link(keyOf(e.from), keyOf(e.to));
    link(keyOf(e.to), keyOf(e.from));
  }
  const seen = new Set([keyOf(root)]);
  const queue = [keyOf(root)];
  for (let i = 0; i < queue.length && seen.size < max; i++) {
    for (const k of next.get(queue[i]!) ?? []) {
      if (seen.size >= max) break;
      if (!seen.has(k) && byKey.has(k)) {
        seen.add(k);
        queue.push(k);
      }
    }
  }
  return [...seen].flatMap((k) => byKey.get(k) ?? []);
}

export const lineageRouter = router({
  graph: procedure
    .input(
      z.object({
        node: z.object({ kind: z.enum(LINEAGE_KINDS), id: z.string().trim().min(1).max(200) }),
        direction: z.enum(['upstream', 'downstream', 'both']).default('both'),
        depth: z.number().int().min(1).max(100).default(10),
      }),
    )
    .query(({ ctx, input }) => graph(ctx, input)),
});
