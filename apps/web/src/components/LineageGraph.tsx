'use client';
/**
 * The lineage graph: React Flow for the canvas, elkjs (layered, left → right) for
 * the layout, so inputs sit left of what they made. Nodes are styled per kind.
 * Clicking a node re-roots the graph on it; "open" goes to its page.
 */
import { memo, useEffect, useState } from 'react';
import Link from 'next/link';
import { Background, Controls, Handle, MiniMap, Position, ReactFlow, type Edge, type Node, type NodeProps } from '@xyflow/react';
import { kindLabel, nodeKey, NODE_HEIGHT, NODE_WIDTH, pageOf, positionsFromElk, resolveEdges, toElkGraph, type GraphEdge, type GraphNode } from '../lib/lineage-layout.ts';
import { shortId } from '../lib/format.ts';

type LineageNodeData = { node: GraphNode; root: boolean; onOpen: (n: GraphNode) => void };
type LineageFlowNode = Node<LineageNodeData, 'lineage'>;

const LineageNodeView = memo(function LineageNodeView({ data }: NodeProps<LineageFlowNode>) {
  const n = data.node;
  const page = pageOf(n);
  return (
    <div
      className={`lnode${data.root ? ' root' : ''}`}
      style={{ ['--kind-color' as string]: `var(--kind-${n.kind})`, width: NODE_WIDTH, height: NODE_HEIGHT }}
      data-testid="lineage-node"
      data-kind={n.kind}
      data-id={n.id}
      data-root={data.root || undefined}
      title={`${kindLabel(n.kind)} ${n.id}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="k">
        <span>{kindLabel(n.kind)}</span>
        {page ? (
          <Link prefetch={false}
            href={page}
            onClick={(e) => e.stopPropagation()}
            className="nodrag"
            data-testid="lineage-node-open"
            style={{ textTransform: 'none', letterSpacing: 0, fontWeight: 500 }}
          >
            open ↗
          </Link>
        ) : null}
      </div>
      <div className="l">{n.label || shortId(n.id, 16)}</div>
      <div className="s">{[n.sublabel, n.status].filter(Boolean).join(' · ') || shortId(n.id, 24)}</div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { lineage: LineageNodeView };

export function LineageGraph({ nodes, edges, rootKey, onSelect }: { nodes: GraphNode[]; edges: GraphEdge[]; rootKey: string; onSelect: (n: GraphNode) => void }) {
  const [flow, setFlow] = useState<{ nodes: LineageFlowNode[]; edges: Edge[]; key: string } | null>(null);
  const [layoutError, setLayoutError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    const resolved = resolveEdges(nodes, edges);
    void (async () => {
      try {
        const { default: ELK } = await import('elkjs/lib/elk.bundled.js');
        const elk = new ELK();
        const layout = await elk.layout(toElkGraph(nodes, resolved));
        if (cancelled) return;
        const pos = positionsFromElk(layout);
        setFlow({
          key: `${rootKey}:${nodes.length}:${resolved.length}`,
          nodes: nodes.map((n) => ({
            id: nodeKey(n),
            type: 'lineage',
            position: pos.get(nodeKey(n)) ?? { x: 0, y: 0 },
            data: { node: n, root: nodeKey(n) === rootKey, onOpen: onSelect },
            draggable: true,
            connectable: false,
          })),
          edges: resolved.map((e) => ({
            id: e.id,
            source: e.source,
            target: e.target,
            label: e.relation.replace(/_/g, ' '),
            labelStyle: { fontSize: 10, fill: '#616e7c' },
            labelBgStyle: { fill: '#f7f8fa' },
            style: { stroke: '#9aa5b1' },
          })),
        });
        setLayoutError(null);
      } catch (e) {
        if (!cancelled) setLayoutError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [nodes, edges, rootKey, onSelect]);

  return (
    <div className="lineage-canvas" data-testid="lineage-canvas" data-nodes={nodes.length} data-ready={flow ? 'true' : 'false'}>
      {layoutError ? <p className="error-box">Layout failed: {layoutError}</p> : null}
      {flow ? (
        <ReactFlow
          key={flow.key}
          defaultNodes={flow.nodes}
          defaultEdges={flow.edges}
          nodeTypes={nodeTypes}
          fitView
          fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
          minZoom={0.1}
          nodesConnectable={false}
          elementsSelectable
          onNodeClick={(_e, node) => onSelect((node as LineageFlowNode).data.node)}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={18} color="#e4e7eb" />
          <Controls showInteractive={false} />
          {nodes.length > 12 ? <MiniMap pannable zoomable nodeColor={(n) => `var(--kind-${(n.data as LineageNodeData).node.kind})`} /> : null}
        </ReactFlow>
      ) : null}
    </div>
  );
}
