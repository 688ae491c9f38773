'use client';
/**
 * One metric as a uPlot line chart: one line per series (a run, on the compare
 * page). uPlot draws tens of thousands of points on a canvas without trouble; the
 * API already downsamples long series (maxPoints) keeping their spikes. Drag to
 * zoom on x, double-click to reset.
 */
import { useEffect, useMemo, useRef } from 'react';
import type uPlot from 'uplot';
import { alignSeries, seriesColor, type Series } from '../lib/series.ts';
import { formatNumber } from '../lib/format.ts';

export interface ChartSeries extends Series {
  label: string;
  color?: string;
}

export function MetricChart({ title, series, total, height = 220, testId = 'metric-chart' }: { title: string; series: ChartSeries[]; total?: number; height?: number; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // A cheap fingerprint of the series, so a parent that rebuilds the same arrays on each
  // render (or a refetch that brings nothing new) does not redraw the chart.
  const sig = series.map((x) => `${x.label}\u0001${x.color ?? ''}\u0001${x.steps.length}\u0001${x.steps.at(-1)}\u0001${x.values.at(-1)}`).join('\u0000');
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const data = useMemo(() => alignSeries(series), [sig]);
  const points = data[0].length;
  const labels = series.map((s) => s.label).join('\u0000');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let disposed = false;
    let ro: ResizeObserver | null = null;
    void import('uplot').then(({ default: UPlot }) => {
      if (disposed) return;
      const opts: uPlot.Options = {
        width: Math.max(200, el.clientWidth),
        height,
        scales: { x: { time: false } },
        cursor: { drag: { x: true, y: false }, points: { size: 6 } },
        legend: { show: series.length <= 12, live: true },
        axes: [
          { stroke: '#616e7c', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e4e7eb' } },
          { stroke: '#616e7c', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e4e7eb' }, size: 56, values: (_u, vals) => vals.map((v) => formatNumber(v, 3)) },
        ],
        series: [
          { label: 'step' },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: s.color ?? seriesColor(i),
            width: 1.5,
            spanGaps: true,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
          })),
        ],
      };
      plot.current?.destroy();
      plot.current = new UPlot(opts, data as uPlot.AlignedData, el);
      ro = new ResizeObserver(() => {
        const w = Math.max(200, el.clientWidth);
        if (plot.current && Math.abs(plot.current.width - w) > 2) plot.current.setSize({ width: w, height });
      });
      ro.observe(el);
    });
    return () => {
      disposed = true;
      ro?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt when the data or its series change; labels stand for the series list.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, labels, height]);

  return (
    <figure className="chart" data-testid={testId} data-metric={title} data-points={points} style={{ margin: 0 }}>
      <h3>
        <span>{title}</span>
        <span className="muted">{total !== undefined && total > points ? `${points.toLocaleString()} of ${total.toLocaleString()} points` : `${points.toLocaleString()} points`}</span>
      </h3>
      {points === 0 ? <p className="muted small">No points.</p> : <div ref={box} className="plot" role="img" aria-label={`${title} over steps`} />}
    </figure>
  );
}
