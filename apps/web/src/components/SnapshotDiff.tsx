'use client';
/** Files added, removed and modified between two snapshots of a dataset. */
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { formatBytes } from '../lib/format.ts';
import { ErrorBox, Loading } from './QueryState.tsx';

interface DiffItem {
  path: string;
  size?: number;
  /** Modified files: the size on each side. */
  oldSize?: number;
  newSize?: number;
}

const SHOWN = 200;

function ItemList({ title, items, count, tone }: { title: string; items: readonly DiffItem[]; count: number; tone: string }) {
  return (
    <div data-testid={`diff-${title.toLowerCase()}`} data-count={count}>
      <h3 style={{ color: tone }}>
        {title} ({count.toLocaleString()})
      </h3>
      {items.length === 0 ? <p className="muted small">none</p> : null}
      <ul className="mono small" style={{ margin: 0, paddingLeft: 18, maxHeight: 300, overflow: 'auto' }}>
        {items.slice(0, SHOWN).map((it) => (
          <li key={it.path}>
            {it.path}
            {typeof it.size === 'number' ? <span className="muted"> {formatBytes(it.size)}</span> : null}
            {typeof it.oldSize === 'number' && typeof it.newSize === 'number' ? (
              <span className="muted">
                {' '}
                {formatBytes(it.oldSize)} → {formatBytes(it.newSize)}
              </span>
            ) : null}
          </li>
        ))}
        {count > Math.min(SHOWN, items.length) ? <li className="muted">… and {(count - Math.min(SHOWN, items.length)).toLocaleString()} more</li> : null}
      </ul>
    </div>
  );
}

export function SnapshotDiff({ a, b }: { a: string; b: string }) {
  const trpc = useTRPC();
  const diff = useQuery(trpc.datasets.diff.queryOptions({ a, b }, { staleTime: Infinity }));
  if (diff.error) return <ErrorBox error={diff.error} title="Could not diff" />;
  if (diff.isPending) return <Loading what="Diffing" />;
  const d = diff.data;
  if (d.counts.added + d.counts.removed + d.counts.modified === 0) {
    return (
      <p className="muted small" data-testid="snapshot-diff" data-same="true">
        Same files, same bytes.
      </p>
    );
  }
  return (
    <div className="grid3" data-testid="snapshot-diff">
      <ItemList title="Added" items={d.added} count={d.counts.added} tone="var(--st-finished-fg)" />
      <ItemList title="Removed" items={d.removed} count={d.counts.removed} tone="var(--st-failed-fg)" />
      <ItemList title="Modified" items={d.modified} count={d.counts.modified} tone="var(--st-abandoned-fg)" />
    </div>
  );
}
