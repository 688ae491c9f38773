import { RUN_STATUSES } from '../lib/status.ts';

/** Runs per status as a stacked bar and small coloured counts. */
export function StatusCounts({ counts }: { counts: Partial<Record<string, number>> }) {
  const total = RUN_STATUSES.reduce((s, k) => s + (counts[k] ?? 0), 0);
  return (
    <div data-testid="status-counts">
      {total > 0 ? (
        <div className="bar" aria-hidden="true" style={{ marginBottom: 6 }}>
          {RUN_STATUSES.map((k) => (counts[k] ? <span key={k} style={{ width: `${(100 * counts[k]!) / total}%`, background: `var(--st-${k}-fg)` }} /> : null))}
        </div>
      ) : null}
      <div className="counts">
        {RUN_STATUSES.filter((k) => counts[k]).map((k) => (
          <span key={k} className={`chip st-${k}`} data-status={k} data-count={counts[k]}>
            {counts[k]} {k}
          </span>
        ))}
        {total === 0 ? <span className="muted small">no runs</span> : null}
      </div>
    </div>
  );
}
