import { REASONED_STATUSES, statusLabel } from '../lib/status.ts';

/**
 * A run's status, coloured per status. For failed, abandoned and cancelled runs the
 * reason is shown beside the chip (inline), as a block under it, or only as the
 * chip's tooltip (`reason="title"`, for dense tables).
 */
export function StatusChip({ status, reason, showReason = 'inline' }: { status: string; reason?: string | null; showReason?: 'inline' | 'block' | 'title' | 'none' }) {
  const why = reason && REASONED_STATUSES.includes(status) ? reason : null;
  const chip = (
    <span className={`chip st-${status}`} data-testid="status-chip" data-status={status} title={why ?? undefined}>
      <span className="dot" aria-hidden="true" />
      {statusLabel(status)}
    </span>
  );
  if (!why || showReason === 'none' || showReason === 'title') return chip;
  if (showReason === 'block') {
    return (
      <div className="status-block">
        {chip}
        <span className="status-reason" data-testid="status-reason">
          {why}
        </span>
      </div>
    );
  }
  return (
    <span>
      {chip}
      <span className="status-reason" data-testid="status-reason">
        {why}
      </span>
    </span>
  );
}
