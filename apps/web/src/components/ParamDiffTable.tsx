'use client';
/** Params side by side, rows that differ first, the cells that differ from the most common value highlighted. */
import { useState } from 'react';
import Link from 'next/link';
import { diffParams, type ParamValue } from '../lib/param-diff.ts';
import { formatValue } from '../lib/format.ts';
import { seriesColor } from '../lib/series.ts';

export function ParamDiffTable({ runs }: { runs: ReadonlyArray<{ id: string; name: string; params: Record<string, ParamValue> }> }) {
  const [onlyDiff, setOnlyDiff] = useState(false);
  const rows = diffParams(runs);
  const shown = onlyDiff ? rows.filter((r) => r.differs) : rows;
  const differing = rows.filter((r) => r.differs).length;
  return (
    <section className="panel" aria-labelledby="pdiff-h" data-testid="param-diff">
      <div className="row" style={{ marginBottom: 8 }}>
        <h2 id="pdiff-h" style={{ margin: 0 }}>
          Params
        </h2>
        <span className="muted small">
          {differing} of {rows.length} differ
        </span>
        <span className="spacer" />
        <label className="check small">
          <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} data-testid="only-differing" /> only differing
        </label>
      </div>
      {rows.length === 0 ? (
        <p className="muted small">These runs logged no params.</p>
      ) : (
        <div className="table-scroll" style={{ maxHeight: 480 }}>
          <table className="data">
            <thead>
              <tr>
                <th>param</th>
                {runs.map((r, i) => (
                  <th key={r.id} title={r.id}>
                    <span style={{ display: 'inline-block', width: 8, height: 8, borderRadius: 2, background: seriesColor(i), marginRight: 5 }} aria-hidden="true" />
                    <Link prefetch={false} href={`/runs/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((row) => (
                <tr key={row.key} className={row.differs ? 'differs' : undefined} data-testid="param-row" data-param={row.key} data-differs={row.differs}>
                  <td className="mono">{row.key}</td>
                  {row.cells.map((c, i) => (
                    <td key={runs[i]!.id} className={`mono${c.highlight ? ' hl' : ''}`} data-highlight={c.highlight || undefined}>
                      {c.value === undefined ? <span className="muted">—</span> : formatValue(c.value)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
