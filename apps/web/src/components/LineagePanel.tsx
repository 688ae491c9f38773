'use client';
/** What went into a node and what came out of it (one step each way), with a link to the full graph. */
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { kindLabel, lineageHref, nodeKey, pageOf, resolveEdges, type GraphNode } from '../lib/lineage-layout.ts';
import { ErrorBox, Loading } from './QueryState.tsx';

export function LineagePanel({ kind, id }: { kind: 'run' | 'snapshot' | 'model_version' | 'dataset' | 'model' | 'code' | 'deployment'; id: string }) {
  const trpc = useTRPC();
  const graph = useQuery(trpc.lineage.graph.queryOptions({ node: { kind, id }, direction: 'both', depth: 1 }));
  const rootKey = `${kind}:${id}`;
  let inputs: GraphNode[] = [];
  let outputs: GraphNode[] = [];
  if (graph.data) {
    const nodes = graph.data.nodes as GraphNode[];
    const byKey = new Map(nodes.map((n) => [nodeKey(n), n]));
    const edges = resolveEdges(nodes, graph.data.edges);
    inputs = edges.filter((e) => e.target === rootKey).map((e) => byKey.get(e.source)!).filter(Boolean);
    outputs = edges.filter((e) => e.source === rootKey).map((e) => byKey.get(e.target)!).filter(Boolean);
  }
  const item = (n: GraphNode) => {
    const page = pageOf(n);
    return (
      <li key={nodeKey(n)}>
        <span className="pill" style={{ color: `var(--kind-${n.kind})`, borderColor: 'currentColor' }}>
          {kindLabel(n.kind)}
        </span>{' '}
        {page ? <Link prefetch={false} href={page}>{n.label ?? n.id}</Link> : <Link prefetch={false} href={lineageHref(n.kind, n.id)}>{n.label ?? n.id}</Link>}
        {n.sublabel ? <span className="muted small"> {n.sublabel}</span> : null}
      </li>
    );
  };
  return (
    <section className="panel" aria-labelledby="lineage-h" data-testid="lineage-panel">
      <div className="row">
        <h2 id="lineage-h" style={{ margin: 0 }}>
          Lineage
        </h2>
        <span className="spacer" />
        <Link prefetch={false} className="btn" href={lineageHref(kind, id)} data-testid="lineage-link">
          Open graph
        </Link>
      </div>
      {graph.error ? <ErrorBox error={graph.error} /> : null}
      {graph.isPending ? <Loading what="Loading lineage" /> : null}
      {graph.data ? (
        <div className="grid2" style={{ marginTop: 10, gap: 10 }}>
          <div>
            <h3>Inputs</h3>
            {inputs.length ? <ul style={{ margin: 0, paddingLeft: 18 }}>{inputs.map(item)}</ul> : <p className="muted small">none recorded</p>}
          </div>
          <div>
            <h3>Outputs</h3>
            {outputs.length ? <ul style={{ margin: 0, paddingLeft: 18 }}>{outputs.map(item)}</ul> : <p className="muted small">none recorded</p>}
          </div>
        </div>
      ) : null}
    </section>
  );
}
