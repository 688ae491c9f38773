'use client';
/**
 * /runs: every run, filtered with the filter language, sorted by any column, with
 * the columns the user picks; filter, sort and columns live in the URL. Rows can be
 * ticked and compared.
 */
import { useCallback, useMemo, useState } from 'react';
import { useRouter, useSearchParams } from 'next/navigation';
import Link from 'next/link';
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { defaultColumns } from '../../lib/columns.ts';
import { filterErrorOf } from '../../lib/filter-error.ts';
import { compareHref, decodeRunsView, MAX_COMPARE, nextSort, orderByOf, runsViewHref, type RunsViewState } from '../../lib/url-state.ts';
import { ColumnPicker } from '../ColumnPicker.tsx';
import { FilterBox } from '../FilterBox.tsx';
import { RunsTable } from '../RunsTable.tsx';
import { EmptyState, NoRunsYet } from '../EmptyState.tsx';
import { ErrorBox, Loading } from '../QueryState.tsx';

const PAGE_SIZE = 200;

export function RunsView() {
  const router = useRouter();
  const params = useSearchParams();
  const view = useMemo(() => decodeRunsView(new URLSearchParams(params?.toString() ?? '')), [params]);
  const setView = useCallback((next: RunsViewState) => router.replace(runsViewHref(next), { scroll: false }), [router]);
  const trpc = useTRPC();
  const [selected, setSelected] = useState<Set<string>>(() => new Set());

  const experimentIds = view.experiment ? [view.experiment] : undefined;
  const columnsQuery = useQuery(trpc.runs.columns.queryOptions({ experimentIds }, { staleTime: 60_000 }));
  const search = useInfiniteQuery(
    trpc.runs.search.infiniteQueryOptions(
      { experimentIds, filter: view.filter || undefined, orderBy: orderByOf(view.sort), limit: PAGE_SIZE },
      { getNextPageParam: (last) => last.nextCursor ?? undefined, placeholderData: keepPreviousData },
    ),
  );

  const runs = useMemo(() => search.data?.pages.flatMap((p) => p.runs) ?? [], [search.data]);
  const filterError = search.error ? filterErrorOf(search.error) : null;
  // How many match in all: a count is a pass over every match, so it is asked once, apart
  // from the pages, and only after the new filter's first page is shown (while the
  // previous filter's rows stand in as placeholder, isSuccess is already true).
  const count = useQuery(
    trpc.runs.search.queryOptions(
      { experimentIds, filter: view.filter || undefined, limit: 1, withTotal: true },
      { enabled: search.isSuccess && !search.isPlaceholderData, staleTime: 30_000, select: (p) => p.total },
    ),
  );
  const total = count.data;
  const available = columnsQuery.data;
  const columns = view.columns ?? (available ? defaultColumns(available) : []);

  const onSelect = useCallback((ids: string[], on: boolean) => {
    setSelected((prev) => {
      const next = new Set(prev);
      for (const id of ids) {
        if (on && next.size < MAX_COMPARE) next.add(id);
        if (!on) next.delete(id);
      }
      return next;
    });
  }, []);
  const fetchNext = useCallback(() => void search.fetchNextPage(), [search]);

  const nothingAtAll = !view.filter && !view.experiment && search.isSuccess && runs.length === 0;

  return (
    <>
      <div className="page-head">
        <div>
          {view.experiment ? (
            <div className="crumbs">
              <Link prefetch={false} href="/">Experiments</Link> / {view.experiment}
            </div>
          ) : null}
          <h1>Runs</h1>
          <div className="sub" data-testid="runs-count">
            {search.isPending ? 'Loading…' : total !== undefined && total !== null ? `${runs.length.toLocaleString()} of ${total.toLocaleString()} runs loaded` : `${runs.length.toLocaleString()} runs loaded${search.hasNextPage ? ' (more as you scroll)' : ''}`}
          </div>
        </div>
        <div className="row">
          {selected.size ? (
            <button type="button" className="link" onClick={() => setSelected(new Set())}>
              Clear selection
            </button>
          ) : null}
          <button type="button" className="primary" disabled={selected.size === 0} onClick={() => router.push(compareHref([...selected]))} data-testid="compare-button">
            Compare{selected.size ? ` (${selected.size})` : ''}
          </button>
        </div>
      </div>
      <div className="runs-toolbar">
        <FilterBox value={view.filter} error={filterError} onSubmit={(filter) => setView({ ...view, filter })} />
        <ColumnPicker available={available} chosen={columns} onChange={(cols) => setView({ ...view, columns: cols })} onReset={() => setView({ ...view, columns: null })} />
        {view.sort.length ? (
          <button type="button" onClick={() => setView({ ...view, sort: [] })} title="Back to newest first">
            Unsort
          </button>
        ) : null}
      </div>
      {search.error && !filterError ? <ErrorBox error={search.error} title="Could not load runs" /> : null}
      {search.isPending ? <Loading what="Loading runs" /> : null}
      {nothingAtAll ? <NoRunsYet /> : null}
      {!nothingAtAll && search.isSuccess && runs.length === 0 ? (
        <EmptyState title="No run matches this filter" testId="no-match">
          Loosen the filter, or <button type="button" className="link" onClick={() => setView({ ...view, filter: '' })}>clear it</button>.
        </EmptyState>
      ) : null}
      {runs.length > 0 && !filterError ? (
        <RunsTable
          runs={runs}
          columns={columns}
          sort={view.sort}
          onSort={(field) => setView({ ...view, sort: nextSort(view.sort, field) })}
          selected={selected}
          onSelect={onSelect}
          hasNextPage={!!search.hasNextPage}
          isFetchingNextPage={search.isFetchingNextPage}
          fetchNextPage={fetchNext}
          showExperiment={!view.experiment}
        />
      ) : null}
    </>
  );
}
