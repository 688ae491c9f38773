'use client';
/**
 * The runs table: TanStack Table for the columns, TanStack Virtual for the rows.
 * Only the rows in view are in the DOM, and the next page (by cursor) is asked for
 * as the user scrolls near the end, so 100,000 runs scroll as smoothly as 100.
 * Sorting is done by the API (the column id is the orderBy field).
 */
import { memo, useEffect, useMemo, useRef } from 'react';
import { useRouter } from 'next/navigation';
import { flexRender, getCoreRowModel, useReactTable, type ColumnDef, type Row } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { RunRow } from '../lib/api-types.ts';
import { fieldColumn } from '../lib/columns.ts';
import { formatDate, formatDuration, formatValue, runDuration } from '../lib/format.ts';
import type { SortSpec } from '../lib/url-state.ts';
import { MAX_COMPARE } from '../lib/url-state.ts';
import { StatusChip } from './StatusChip.tsx';

const ROW_HEIGHT = 35; // globals.css --row-h (border included)
const PREFETCH_ROWS = 60;

/** Columns that sort by an attribute of the filter language. */
const SORT_FIELD: Record<string, string> = { name: 'name', status: 'status', tier: 'tier', created: 'created' };

interface Props {
  runs: RunRow[];
  columns: string[];
  sort: SortSpec[];
  onSort: (field: string) => void;
  selected: ReadonlySet<string>;
  onSelect: (ids: string[], on: boolean) => void;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => void;
  showExperiment: boolean;
}

function metricLast(run: RunRow, key: string): number | undefined {
  const m = (run.metrics as Record<string, { last?: number | null } | undefined>)[key];
  return m?.last ?? undefined;
}

/**
 * One row. Memoised: while scrolling only the rows that come into view render; the
 * others keep their DOM. `columnsKey` and `selected` stand for what the cells show.
 */
const RunRowView = memo(
  function RunRowView({ row, index, start, selected }: { row: Row<RunRow>; index: number; start: number; selected: boolean; columnsKey: string }) {
    return (
      <tr
        className={selected ? 'selected' : undefined}
        style={{ transform: `translateY(${start}px)` }}
        data-testid="run-row"
        data-run-id={row.id}
        data-status={row.original.status}
        data-index={index}
        aria-rowindex={index + 2}
      >
        {row.getVisibleCells().map((c) => {
          const numeric = (c.column.columnDef.meta as { numeric?: boolean } | undefined)?.numeric;
          return (
            <td key={c.id} className={numeric ? 'num' : undefined} style={{ width: c.column.getSize() }}>
              {flexRender(c.column.columnDef.cell, c.getContext())}
            </td>
          );
        })}
      </tr>
    );
  },
  (a, b) => a.row.original === b.row.original && a.index === b.index && a.start === b.start && a.selected === b.selected && a.columnsKey === b.columnsKey,
);

export function RunsTable({ runs, columns, sort, onSort, selected, onSelect, hasNextPage, isFetchingNextPage, fetchNextPage, showExperiment }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const router = useRouter();
  /** Plain left clicks on the rows' links navigate in the app; modified clicks open tabs as usual. */
  const navigateInApp = (e: React.MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as HTMLElement).closest('a');
    const href = a?.getAttribute('href');
    if (!a || !href?.startsWith('/') || a.target) return;
    e.preventDefault();
    router.push(href);
  };
  // Read by the cells at render time, so the column definitions need not change (and
  // every row re-render) when the selection or the loaded pages do.
  const live = useRef({ runs, selected, onSelect });
  live.current = { runs, selected, onSelect };

  const columnDefs = useMemo<ColumnDef<RunRow>[]>(() => {
    const defs: ColumnDef<RunRow>[] = [
      {
        id: 'select',
        size: 38,
        header: () => {
          const { runs: loaded, selected: chosen, onSelect: select } = live.current;
          const ids = loaded.slice(0, MAX_COMPARE).map((r) => r.id);
          const all = ids.length > 0 && ids.every((id) => chosen.has(id));
          return (
            <input
              type="checkbox"
              aria-label={all ? 'Unselect loaded runs' : `Select the first ${ids.length} loaded runs`}
              checked={all}
              onChange={() => select(ids, !all)}
              data-testid="select-all"
            />
          );
        },
        cell: ({ row }) => (
          <input
            type="checkbox"
            aria-label={`Select run ${row.original.name}`}
            checked={live.current.selected.has(row.original.id)}
            onChange={(e) => live.current.onSelect([row.original.id], e.target.checked)}
            data-testid="run-select"
          />
        ),
      },
      {
        id: 'name',
        size: 190,
        header: 'Name',
        cell: ({ row }) => (
          // A plain link (navigateInApp makes it a client-side navigation): rows mount by
          // the dozen while scrolling, and next/link's per-link setup and prefetch add up.
          <a href={`/runs/${encodeURIComponent(row.original.id)}`} title={row.original.id} data-testid="run-link">
            {row.original.name}
          </a>
        ),
      },
      {
        id: 'status',
        size: 260,
        header: 'Status',
        cell: ({ row }) => <StatusChip status={row.original.status} reason={row.original.statusReason} />,
      },
    ];
    if (showExperiment) {
      defs.push({ id: 'experiment', size: 140, header: 'Experiment', cell: ({ row }) => <span title={row.original.experimentName}>{row.original.experimentName}</span> });
    }
    defs.push(
      { id: 'tier', size: 76, header: 'Tier', cell: ({ row }) => row.original.tier ?? <span className="muted">—</span> },
      { id: 'created', size: 136, header: 'Created', cell: ({ row }) => formatDate(row.original.createdAt) },
      {
        id: 'duration',
        size: 112,
        header: 'Duration',
        cell: ({ row }) => <span className="mono">{formatDuration(runDuration(row.original.startedAt, row.original.endedAt))}</span>,
      },
    );
    for (const id of columns) {
      const f = fieldColumn(id);
      if (!f) continue;
      defs.push({
        id,
        size: f.group === 'tags' ? 130 : 118,
        header: () => (
          <span title={id}>
            <span className="col-group">{f.group === 'metrics' ? 'm' : f.group === 'params' ? 'p' : 't'}</span>
            {f.key}
          </span>
        ),
        meta: { numeric: f.group !== 'tags' },
        cell: ({ row }) => {
          const r = row.original;
          const v = f.group === 'metrics' ? metricLast(r, f.key) : f.group === 'params' ? r.params[f.key] : r.tags[f.key];
          return <span title={v === undefined ? undefined : String(v)}>{v === undefined ? <span className="muted">—</span> : formatValue(v)}</span>;
        },
      });
    }
    return defs;
  }, [columns, showExperiment]);

  const virtualizer = useVirtualizer({
    count: runs.length + (hasNextPage ? 1 : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 14,
  });
  const items = virtualizer.getVirtualItems();
  const firstIndex = items.length ? items[0]!.index : 0;
  const lastIndex = items.length ? items[items.length - 1]!.index : -1;

  // The table model covers the rows in view only: with 100,000 runs loaded, a new page
  // or a scroll step costs the same as with 200.
  const windowRuns = useMemo(() => runs.slice(firstIndex, lastIndex + 1), [runs, firstIndex, lastIndex]);
  const table = useReactTable({
    data: windowRuns,
    columns: columnDefs,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (r) => r.id,
    manualSorting: true,
  });
  const rowById = new Map(table.getRowModel().rows.map((r) => [r.id, r]));

  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastIndex >= runs.length - PREFETCH_ROWS) fetchNextPage();
  }, [lastIndex, runs.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const total = virtualizer.getTotalSize();
  const headers = table.getHeaderGroups()[0]!.headers;
  const columnsKey = `${showExperiment}|${columns.join(',')}`;
  const width = headers.reduce((s, h) => s + h.getSize(), 0);

  return (
    <div className="runs-scroll" ref={scrollRef} data-testid="runs-table" data-loaded={runs.length} tabIndex={0} aria-label="Runs" onClick={navigateInApp}>
      {/* A grid, not table layout: rows are absolutely placed (translateY), so a row
          coming into view neither lays out nor repaints the others. */}
      <table className="runs" style={{ width }} aria-rowcount={runs.length + 1}>
        <thead>
          <tr>
            {headers.map((h) => {
              const field = SORT_FIELD[h.id] ?? (fieldColumn(h.id) ? h.id : null);
              const s = field ? sort.find((x) => x.field === field) : undefined;
              const numeric = (h.column.columnDef.meta as { numeric?: boolean } | undefined)?.numeric;
              const content = flexRender(h.column.columnDef.header, h.getContext());
              return (
                <th
                  key={h.id}
                  scope="col"
                  aria-sort={s ? (s.desc ? 'descending' : 'ascending') : undefined}
                  style={{ width: h.getSize(), justifyContent: numeric ? 'flex-end' : undefined }}
                >
                  {field ? (
                    <button type="button" className="sort" onClick={() => onSort(field)} data-testid="sort-header" data-field={field} title={`Sort by ${field}`}>
                      {content}
                      <span aria-hidden="true">{s ? (s.desc ? '▼' : '▲') : ''}</span>
                    </button>
                  ) : (
                    content
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody style={{ height: total }}>
          {items.map((vi) => {
            const run = runs[vi.index];
            const row = run ? rowById.get(run.id) : undefined;
            if (!row) {
              return (
                <tr key="loader" data-testid="runs-loading-more" style={{ transform: `translateY(${vi.start}px)` }}>
                  <td className="muted" style={{ width }}>
                    {isFetchingNextPage ? 'Loading more runs…' : ''}
                  </td>
                </tr>
              );
            }
            return <RunRowView key={row.id} row={row} index={vi.index} start={vi.start} selected={selected.has(row.id)} columnsKey={columnsKey} />;
          })}
        </tbody>
      </table>
    </div>
  );
}
