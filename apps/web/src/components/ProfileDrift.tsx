'use client';
/**
 * What moved between two snapshots' profiles: rows, missing values per column,
 * column types, and the class balance of the label column.
 */
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { formatNumber } from '../lib/format.ts';
import { ErrorBox, Loading } from './QueryState.tsx';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const signed = (x: number, f: (v: number) => string) => (x > 0 ? `+${f(x)}` : x < 0 ? `−${f(-x)}` : f(0));

export function ProfileDrift({ a, b }: { a: string; b: string }) {
  const trpc = useTRPC();
  const drift = useQuery(trpc.datasets.drift.queryOptions({ a, b }, { staleTime: Infinity }));
  if (drift.error) return <ErrorBox error={drift.error} title="Could not compute drift" />;
  if (drift.isPending) return <Loading what="Comparing profiles" />;
  const { drift: diff, missing } = drift.data;
  if (!diff) {
    return (
      <p className="muted small" data-testid="drift-none">
        No profile recorded for {missing.map((id) => id.slice(0, 12)).join(' and ') || 'these snapshots'}: snapshot with{' '}
        <code>--label COLUMN</code> to profile tables (rows, missing values, class balance).
      </p>
    );
  }
  const tables = diff.tables;
  const entries = Object.entries(tables);
  if (!entries.length) return <p className="muted small">No table was profiled on both sides.</p>;
  return (
    <div data-testid="drift">
      {entries.map(([path, t]) => {
        const missing = Object.entries(t.missingRate).filter(([, d]) => d.a !== 0 || d.b !== 0);
        return (
          <div key={path} style={{ marginBottom: 16 }} data-testid="drift-table" data-path={path}>
            <h3 className="mono">{path}</h3>
            <p className="small">
              Rows {t.rows.a.toLocaleString()} → {t.rows.b.toLocaleString()} ({signed(t.rows.delta, (v) => v.toLocaleString())})
              {t.columnsAdded.length ? ` · columns added: ${t.columnsAdded.join(', ')}` : ''}
              {t.columnsRemoved.length ? ` · columns removed: ${t.columnsRemoved.join(', ')}` : ''}
            </p>
            <div className="grid2">
              <div>
                <h3>Missing values</h3>
                {missing.length === 0 ? (
                  <p className="muted small">No missing values on either side.</p>
                ) : (
                  <table className="data" data-testid="drift-missing">
                    <thead>
                      <tr>
                        <th>column</th>
                        <th className="num">before</th>
                        <th className="num">after</th>
                        <th className="num">change</th>
                      </tr>
                    </thead>
                    <tbody>
                      {missing.map(([col, d]) => (
                        <tr key={col}>
                          <td className="mono">{col}</td>
                          <td className="num">{pct(d.a)}</td>
                          <td className="num">{pct(d.b)}</td>
                          <td className={`num${Math.abs(d.delta) >= 0.01 ? ' hl' : ''}`}>{signed(d.delta, pct)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
                {Object.keys(t.typeChanges).length ? (
                  <p className="small">
                    Type changes:{' '}
                    {Object.entries(t.typeChanges)
                      .map(([c, x]) => `${c} ${x.a} → ${x.b}`)
                      .join(', ')}
                  </p>
                ) : null}
              </div>
              <div>
                <h3>Class balance{t.label ? ` (${t.label.column})` : ''}</h3>
                {t.label ? (
                  <table className="data" data-testid="drift-classes">
                    <thead>
                      <tr>
                        <th>class</th>
                        <th className="num">before</th>
                        <th className="num">after</th>
                        <th className="num">share shift</th>
                        <th style={{ width: '30%' }} />
                      </tr>
                    </thead>
                    <tbody>
                      {Object.entries(t.label.classes).map(([c, s]) => (
                        <tr key={c}>
                          <td className="mono">{c}</td>
                          <td className="num">
                            {s.a.toLocaleString()} <span className="muted">({pct(s.shareA)})</span>
                          </td>
                          <td className="num">
                            {s.b.toLocaleString()} <span className="muted">({pct(s.shareB)})</span>
                          </td>
                          <td className={`num${Math.abs(s.shift) >= 0.02 ? ' hl' : ''}`}>{signed(s.shift, pct)}</td>
                          <td>
                            <div className="bar" title={`${pct(s.shareA)} → ${pct(s.shareB)}`}>
                              <span style={{ width: pct(s.shareB), background: 'var(--accent)' }} />
                            </div>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                ) : (
                  <p className="muted small">No label column profiled on both sides.</p>
                )}
                {t.label?.maxShift ? (
                  <p className="small">
                    Largest shift: <span className="mono">{t.label.maxShift.class}</span> {signed(t.label.maxShift.shift, pct)} ({formatNumber(t.label.maxShift.shift)})
                  </p>
                ) : null}
              </div>
            </div>
          </div>
        );
      })}
    </div>
  );
}
