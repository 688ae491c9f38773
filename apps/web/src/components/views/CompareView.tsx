'use client';
/**
 * /compare?ids=a,b,…: up to 100 runs side by side — every metric as one chart with
 * a line per run, the params that differ, and parallel coordinates over the
 * differing params and the main metrics.
 */
import { useMemo, useState } from 'react';
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useQueries, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { compareHref, decodeCompareIds, MAX_COMPARE } from '../../lib/url-state.ts';
import { diffParams } from '../../lib/param-diff.ts';
import { isSystemMetric, seriesColor } from '../../lib/series.ts';
import { formatNumber } from '../../lib/format.ts';
import type { AxisValue } from '../../lib/parallel-coords.ts';
import type { CompareOut } from '../../lib/api-types.ts';
import { MetricChart } from '../MetricChart.tsx';
import { ParamDiffTable } from '../ParamDiffTable.tsx';
import { ParallelCoords } from '../ParallelCoords.tsx';
import { StatusChip } from '../StatusChip.tsx';
import { EmptyState } from '../EmptyState.tsx';
import { ErrorBox, Loading } from '../QueryState.tsx';

const NO_KEYS: string[] = [];

/**
 * Points per line: fewer as more runs share a chart, so 100 runs stay light. A chart is
 * at most ~700 px wide, so 600 points (each a block's min or max) is more than a line
 * can show; these counts also let the server read 10,000-step series from its rollups.
 */
function pointsFor(runCount: number): number {
  if (runCount <= 10) return 600;
  if (runCount <= 30) return 300;
  return 150;
}

export function CompareView() {
  const params = useSearchParams();
  const router = useRouter();
  const ids = useMemo(() => decodeCompareIds(new URLSearchParams(params?.toString() ?? '')), [params]);
  const trpc = useTRPC();
  const maxPoints = pointsFor(ids.length);
  // One request: the runs with the series of every metric they have, as many as the API
  // reads at once (runs × metrics ≤ 1,000); metrics beyond that follow in more requests.
  const compare = useQuery(trpc.runs.compare.queryOptions({ runIds: ids, keys: 'all', maxPoints }, { enabled: ids.length > 0 }));
  const moreKeys = compare.data?.moreKeys ?? NO_KEYS;
  const perRequest = Math.max(1, Math.min(50, Math.floor(1000 / Math.max(1, ids.length))));
  const moreQueries = useQueries({
    queries: chunk(moreKeys, perRequest).map((keys) => trpc.runs.compare.queryOptions({ runIds: ids, keys, maxPoints }, { staleTime: 30_000 })),
  });
  const metricKeys = useMemo(() => [...(compare.data?.keys ?? []), ...moreKeys], [compare.data, moreKeys]);
  const series = useMemo(() => {
    const out: Record<string, Record<string, { steps: number[]; values: number[] }>> = {};
    for (const data of [compare.data, ...moreQueries.map((q) => q.data)]) {
      for (const [runId, byKey] of Object.entries(data?.series ?? {})) Object.assign((out[runId] ??= {}), byKey);
    }
    return out;
    // The query results array is new on every render; its data items are stable.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [compare.dataUpdatedAt, moreQueries.map((q) => q.dataUpdatedAt).join(',')]);
  const seriesError = moreQueries.find((q) => q.error)?.error;
  const seriesLoading = moreQueries.some((q) => q.isPending);
  const [extra, setExtra] = useState('');

  if (!ids.length) {
    return (
      <>
        <div className="page-head">
          <h1>Compare</h1>
        </div>
        <EmptyState title="No runs to compare yet">
          Tick runs in the <Link prefetch={false} href="/runs">runs table</Link> and press <strong>Compare</strong> (up to {MAX_COMPARE}).
        </EmptyState>
      </>
    );
  }

  return (
    <>
      <div className="page-head">
        <div>
          <div className="crumbs">
            <Link prefetch={false} href="/runs">Runs</Link>
          </div>
          <h1>Compare {ids.length} runs</h1>
        </div>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            const more = extra.split(/[\s,]+/).filter(Boolean);
            if (more.length) router.push(compareHref([...ids, ...more]));
            setExtra('');
          }}
        >
          <label htmlFor="add-run" className="sr-only">
            Add run ids
          </label>
          <input id="add-run" type="text" placeholder="add run id…" value={extra} onChange={(e) => setExtra(e.target.value)} />
          <button type="submit">Add</button>
        </form>
      </div>
      {compare.error ? <ErrorBox error={compare.error} title="Could not compare" /> : null}
      {compare.isPending ? <Loading what="Loading the runs" /> : null}
      {seriesError ? <ErrorBox error={seriesError} title="Could not load the series" /> : null}
      {compare.data ? (
        <CompareBody
          runs={compare.data.runs}
          metricKeys={metricKeys}
          series={series}
          seriesLoading={seriesLoading}
          onRemove={(id) => router.push(ids.length > 1 ? compareHref(ids.filter((x) => x !== id)) : '/compare')}
        />
      ) : null}
    </>
  );
}

/** The model's metrics that say most about a run first: validation and test ones, then the rest. */
function headlineKeys(keys: readonly string[]): string[] {
  const rank = (k: string) => (/^(val|test)_/.test(k) ? 0 : 1);
  return keys.filter((k) => !isSystemMetric(k)).sort((a, b) => rank(a) - rank(b));
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

interface BodyProps {
  runs: CompareOut['runs'];
  metricKeys: string[];
  series: Record<string, Record<string, { steps: number[]; values: number[] } | undefined> | undefined>;
  seriesLoading: boolean;
  onRemove: (id: string) => void;
}

function CompareBody({ runs, metricKeys, series, seriesLoading, onRemove }: BodyProps) {
  const pcKeys = useMemo(() => {
    const differing = diffParams(runs)
      .filter((r) => r.differs)
      .map((r) => `params.${r.key}`)
      .slice(0, 8);
    const metrics = headlineKeys(metricKeys).slice(0, 4).map((k) => `metrics.${k}`);
    return [...differing, ...metrics];
  }, [runs, metricKeys]);
  const pcRuns = useMemo(
    () =>
      runs.map((r) => {
        const values: Record<string, AxisValue> = {};
        for (const [k, v] of Object.entries(r.params)) values[`params.${k}`] = v;
        for (const [k, m] of Object.entries(r.metrics)) values[`metrics.${k}`] = (m as { last?: number | null }).last ?? null;
        return { id: r.id, name: r.name, values };
      }),
    [runs],
  );
  const summaryKeys = headlineKeys(metricKeys).slice(0, 5);

  return (
    <>
      <section className="panel" aria-labelledby="cmp-runs-h">
        <h2 id="cmp-runs-h">Runs</h2>
        <div className="table-scroll" style={{ maxHeight: 360 }}>
          <table className="data" data-testid="compare-runs">
            <thead>
              <tr>
                <th>run</th>
                <th>status</th>
                {summaryKeys.map((k) => (
                  <th key={k} className="num mono">
                    {k}
                  </th>
                ))}
                <th />
              </tr>
            </thead>
            <tbody>
              {runs.map((r, i) => (
                <tr key={r.id} data-testid="compare-run" data-run-id={r.id}>
                  <td>
                    <span style={{ display: 'inline-block', width: 10, height: 10, borderRadius: 2, background: seriesColor(i), marginRight: 6 }} aria-hidden="true" />
                    <Link prefetch={false} href={`/runs/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                  </td>
                  <td>
                    <StatusChip status={r.status} reason={r.statusReason} />
                  </td>
                  {summaryKeys.map((k) => (
                    <td key={k} className="num">
                      {formatNumber((r.metrics[k] as { last?: number | null } | undefined)?.last ?? null)}
                    </td>
                  ))}
                  <td>
                    <button type="button" className="link small" onClick={() => onRemove(r.id)} aria-label={`Remove ${r.name} from the comparison`}>
                      remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      {metricKeys.length ? (
        <section aria-labelledby="cmp-charts-h" style={{ marginBottom: 16 }}>
          <h2 id="cmp-charts-h">Metrics</h2>
          {seriesLoading ? <Loading what="Loading the series" /> : null}
          {seriesLoading ? null : (
            <div className="charts" data-testid="compare-charts">
              {metricKeys.map((k) => (
                <MetricChart
                  key={k}
                  title={k}
                  series={runs.map((r, i) => {
                    const s = series[r.id]?.[k];
                    return { label: r.name, color: seriesColor(i), steps: s?.steps ?? [], values: s?.values ?? [] };
                  })}
                />
              ))}
            </div>
          )}
        </section>
      ) : (
        <p className="muted">These runs logged no metrics.</p>
      )}

      <ParamDiffTable runs={runs} />

      <section className="panel" aria-labelledby="pc-h">
        <h2 id="pc-h">Parallel coordinates</h2>
        <ParallelCoords runs={pcRuns} keys={pcKeys} />
      </section>
    </>
  );
}
