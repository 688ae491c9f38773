'use client';
/**
 * A run's metric charts: one uPlot chart per key, the series asked for at most
 * ~2,000 points each (the API downsamples with LTTB / min-max, so spikes stay).
 * Keys go 50 to a request, the API's limit.
 */
import { useQueries } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { MetricChart } from './MetricChart.tsx';
import { ErrorBox, Loading } from './QueryState.tsx';

export const CHART_POINTS = 2000;
const KEYS_PER_REQUEST = 50;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export function RunCharts({ runId, keys, testId }: { runId: string; keys: string[]; testId?: string }) {
  const trpc = useTRPC();
  const results = useQueries({
    queries: chunks(keys, KEYS_PER_REQUEST).map((ks) => trpc.runs.series.queryOptions({ runId, keys: ks, maxPoints: CHART_POINTS }, { staleTime: 15_000 })),
  });
  if (!keys.length) return null;
  const error = results.find((r) => r.error)?.error;
  if (error) return <ErrorBox error={error} title="Could not load the series" />;
  if (results.some((r) => r.isPending)) return <Loading what="Loading metric series" />;
  const all = Object.assign({}, ...results.map((r) => r.data ?? {})) as Record<string, { steps: number[]; values: number[]; total?: number } | undefined>;
  return (
    <div className="charts" data-testid={testId}>
      {keys.map((k) => {
        const s = all[k];
        return <MetricChart key={k} title={k} total={s?.total} series={s ? [{ label: k, steps: s.steps, values: s.values }] : []} />;
      })}
    </div>
  );
}
