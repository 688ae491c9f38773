'use client';
/**
 * /lineage?kind=&id=&direction=: the graph around one node — upstream (what went
 * into it), downstream (what came out of it) or both. Click a node to re-root.
 */
import { useCallback, useMemo, useState } from 'react';
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { kindLabel, LINEAGE_KINDS, lineageHref, pageOf, type Direction, type GraphNode, type LineageKind } from '../../lib/lineage-layout.ts';
import { LineageGraph } from '../LineageGraph.tsx';
import { EmptyState } from '../EmptyState.tsx';
import { ErrorBox, isNotFound, Loading } from '../QueryState.tsx';

const DIRECTIONS: Direction[] = ['upstream', 'both', 'downstream'];

function isKind(k: string | null): k is LineageKind {
  return !!k && (LINEAGE_KINDS as readonly string[]).includes(k);
}

export function LineageView() {
  const params = useSearchParams();
  const router = useRouter();
  const kind = params?.get('kind') ?? null;
  const id = params?.get('id') ?? null;
  const dirParam = params?.get('direction');
  const direction: Direction = dirParam === 'upstream' || dirParam === 'downstream' ? dirParam : 'both';
  const depth = Math.min(20, Math.max(1, Number(params?.get('depth')) || 6));

  const trpc = useTRPC();
  const graph = useQuery(trpc.lineage.graph.queryOptions({ node: { kind: isKind(kind) ? kind : 'run', id: id ?? '' }, direction, depth }, { enabled: isKind(kind) && !!id }));

  const go = useCallback((k: string, i: string, d: Direction = direction) => router.push(lineageHref(k, i, d)), [router, direction]);
  const onSelect = useCallback((n: GraphNode) => go(n.kind, n.id), [go]);
  const nodes = useMemo(() => (graph.data?.nodes ?? []) as GraphNode[], [graph.data]);
  const edges = useMemo(() => graph.data?.edges ?? [], [graph.data]);

  if (!isKind(kind) || !id) return <LineagePicker onGo={go} />;
  const root = nodes.find((n) => n.kind === kind && n.id === id);
  const rootPage = root ? pageOf(root) : null;

  return (
    <>
      <div className="page-head">
        <div style={{ minWidth: 0 }}>
          <div className="crumbs">Lineage</div>
          <h1>
            {kindLabel(kind)} {root?.label ?? id}
          </h1>
          <div className="sub mono">{id}</div>
        </div>
        <div className="row">
          <div className="seg" role="group" aria-label="Direction" data-testid="lineage-direction">
            {DIRECTIONS.map((d) => (
              <button key={d} type="button" aria-pressed={d === direction} onClick={() => go(kind, id, d)} data-testid={`direction-${d}`}>
                {d}
              </button>
            ))}
          </div>
          {rootPage ? (
            <Link prefetch={false} className="btn" href={rootPage}>
              Open {kindLabel(kind)}
            </Link>
          ) : null}
        </div>
      </div>
      <div className="legend" style={{ marginBottom: 8 }}>
        {LINEAGE_KINDS.map((k) => (
          <span key={k}>
            <i style={{ background: `var(--kind-${k})` }} />
            {kindLabel(k)}
          </span>
        ))}
        <span>· click a node to re-root the graph on it</span>
      </div>
      {graph.error ? (
        isNotFound(graph.error) ? (
          <EmptyState title="Nothing recorded for this node">
            No lineage for {kindLabel(kind)} <code>{id}</code>.
          </EmptyState>
        ) : (
          <ErrorBox error={graph.error} title="Could not load the lineage" />
        )
      ) : null}
      {graph.isPending ? <Loading what="Loading the lineage" /> : null}
      {graph.data && nodes.length <= 1 && edges.length === 0 ? (
        <p className="muted small" data-testid="lineage-alone">
          No {direction === 'both' ? 'inputs or outputs' : direction === 'upstream' ? 'inputs' : 'outputs'} recorded for this node yet.
        </p>
      ) : null}
      {graph.data && nodes.length ? <LineageGraph nodes={nodes} edges={edges} rootKey={`${kind}:${id}`} onSelect={onSelect} /> : null}
    </>
  );
}

function LineagePicker({ onGo }: { onGo: (kind: string, id: string) => void }) {
  const [kind, setKind] = useState<LineageKind>('run');
  const [id, setId] = useState('');
  const trpc = useTRPC();
  const recent = useQuery(trpc.runs.search.queryOptions({ limit: 8 }));
  return (
    <>
      <div className="page-head">
        <h1>Lineage</h1>
      </div>
      <section className="panel">
        <h2>Start from a node</h2>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (id.trim()) onGo(kind, id.trim());
          }}
        >
          <label htmlFor="lin-kind" className="sr-only">
            Kind
          </label>
          <select id="lin-kind" value={kind} onChange={(e) => setKind(e.target.value as LineageKind)}>
            {LINEAGE_KINDS.map((k) => (
              <option key={k} value={k}>
                {kindLabel(k)}
              </option>
            ))}
          </select>
          <label htmlFor="lin-id" className="sr-only">
            Id
          </label>
          <input id="lin-id" type="text" placeholder="id" value={id} onChange={(e) => setId(e.target.value)} style={{ minWidth: 320 }} className="mono" />
          <button type="submit" className="primary">
            Show
          </button>
        </form>
        <p className="muted small">Or open a run, a dataset snapshot or a model version and choose “Lineage”.</p>
      </section>
      <section className="panel">
        <h2>Recent runs</h2>
        {recent.isPending ? <Loading /> : null}
        {recent.data && recent.data.runs.length === 0 ? <p className="muted small">No runs yet — run <code>cairn demo</code>.</p> : null}
        <ul>
          {recent.data?.runs.map((r) => (
            <li key={r.id}>
              <Link prefetch={false} href={lineageHref('run', r.id)}>{r.name}</Link> <span className="muted small">{r.experimentName}</span>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
