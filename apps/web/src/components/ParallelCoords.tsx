'use client';
/**
 * Parallel coordinates, drawn as plain SVG: one vertical axis per param or metric,
 * one polyline per run (coloured as in the charts). Hover a line for the run.
 */
import { useMemo } from 'react';
import { buildAxis, position, ticks, type Axis, type AxisValue } from '../lib/parallel-coords.ts';
import { seriesColor } from '../lib/series.ts';

export interface PcRun {
  id: string;
  name: string;
  values: Record<string, AxisValue>;
}

const W = 960;
const H = 320;
const PAD = { top: 40, bottom: 26, left: 80, right: 80 };

function shortName(key: string): string {
  const k = key.replace(/^(params|metrics)\./, '');
  return k.length > 20 ? `${k.slice(0, 19)}…` : k;
}

export function ParallelCoords({ runs, keys }: { runs: PcRun[]; keys: string[] }) {
  const axes = useMemo(() => keys.map((k) => buildAxis(k, runs.map((r) => r.values[k]))).filter((a): a is Axis => a !== null), [runs, keys]);
  if (axes.length < 2) return <p className="muted small">Parallel coordinates need at least two params or metrics with values.</p>;
  const x = (i: number) => PAD.left + (i * (W - PAD.left - PAD.right)) / (axes.length - 1);
  const y = (p: number) => PAD.top + (1 - p) * (H - PAD.top - PAD.bottom);
  return (
    <div className="pc" data-testid="parallel-coords">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Parallel coordinates over ${axes.map((a) => a.key).join(', ')}`}>
        {runs.map((r, ri) => {
          let d = '';
          let pen = false;
          axes.forEach((a, i) => {
            const p = position(a, r.values[a.key]);
            if (p === null) {
              pen = false;
              return;
            }
            d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(p).toFixed(1)}`;
            pen = true;
          });
          return (
            <path key={r.id} className="line" d={d} stroke={seriesColor(ri)} data-run-id={r.id}>
              <title>{r.name}</title>
            </path>
          );
        })}
        {axes.map((a, i) => (
          <g key={a.key} className="axis">
            <line x1={x(i)} x2={x(i)} y1={PAD.top} y2={H - PAD.bottom} />
            <text className="name" x={x(i)} y={PAD.top - 24} textAnchor="middle">
              <title>{a.key}</title>
              {shortName(a.key)}
            </text>
            <text x={x(i)} y={PAD.top - 11} textAnchor="middle">
              {a.key.startsWith('params.') ? 'param' : a.key.startsWith('metrics.') ? 'metric (last)' : ''}
            </text>
            {ticks(a).map((t) => (
              <text key={`${t.at}:${t.label}`} x={x(i) + 5} y={y(t.at) + 4}>
                {t.label.length > 14 ? `${t.label.slice(0, 13)}…` : t.label}
              </text>
            ))}
          </g>
        ))}
      </svg>
    </div>
  );
}
