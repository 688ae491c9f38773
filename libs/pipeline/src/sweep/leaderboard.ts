import type { Direction } from './common.ts';
import type { Params } from './space.ts';

/** A sweep trial's state as the leaderboard shows it. */
export type LeaderboardStatus = 'finished' | 'abandoned' | 'running' | 'queued' | 'failed';

export interface LeaderboardTrial {
  runId: string;
  params: Params;
  /**
   * The trial's objective: final for finished trials, the last reported for abandoned
   * ones, the best so far for running ones; NaN when there is none.
   */
  value: number;
  status: LeaderboardStatus;
  /** Why it ended early or failed (an early-termination verdict's reason, an error). */
  reason?: string;
}

export interface LeaderboardRow extends LeaderboardTrial {
  /** 1-based; rows that tie (same value and status) share a rank ("1, 2, 2, 4"). */
  rank: number;
}

/** Tie-break order, and the order of the unranked tail. */
const STATUS_ORDER: Record<LeaderboardStatus, number> = { finished: 0, abandoned: 1, running: 2, queued: 3, failed: 4 };

/** Rows whose value is compared: a finite value from a trial that did not fail or wait. */
function ranked(t: LeaderboardTrial): boolean {
  return Number.isFinite(t.value) && (t.status === 'finished' || t.status === 'abandoned' || t.status === 'running');
}

/**
 * Orders a sweep's trials best first:
 * 1. trials with a finite objective that finished, were abandoned or are running, by
 *    value in the objective's direction; at an equal value finished before abandoned
 *    before running (a complete result beats a partial one);
 * 2. then the rest (failed trials whatever their value, queued ones, and any without a
 *    finite value), by status (finished, abandoned, running, queued, failed), then by
 *    value where they have one, finite before NaN.
 * Rows equal on all of that keep the input order (pass trials in trial order) and share
 * a rank.
 */
export function leaderboard(trials: readonly LeaderboardTrial[], direction: Direction): LeaderboardRow[] {
  const sign = direction === 'minimize' ? 1 : -1;
  const compare = (a: LeaderboardTrial, b: LeaderboardTrial): number => {
    const ra = ranked(a);
    const rb = ranked(b);
    if (ra !== rb) return ra ? -1 : 1;
    if (!ra && a.status !== b.status) return STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
    const fa = Number.isFinite(a.value);
    const fb = Number.isFinite(b.value);
    if (fa !== fb) return fa ? -1 : 1;
    if (fa && a.value !== b.value) return sign * (a.value - b.value) < 0 ? -1 : 1;
    return STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
  };
  const sorted = [...trials].sort(compare); // stable: input order breaks the remaining ties
  const rows: LeaderboardRow[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i]!;
    const rank = i > 0 && compare(sorted[i - 1]!, t) === 0 ? rows[i - 1]!.rank : i + 1;
    const row: LeaderboardRow = { rank, runId: t.runId, params: t.params, value: t.value, status: t.status };
    if (t.reason !== undefined) row.reason = t.reason;
    rows.push(row);
  }
  return rows;
}
