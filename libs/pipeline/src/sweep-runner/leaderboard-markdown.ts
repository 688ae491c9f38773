import type { SweepState } from './state.ts';

/** Leaderboard rows written into the parent's note. */
export const NOTE_ROWS = 100;

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(4)));
}

function cell(v: unknown): string {
  const s = typeof v === 'number' ? fmt(v) : String(v ?? '');
  return s.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** Marks a sweep's leaderboard note, so `cairn sweep show` can find the newest. */
export const LEADERBOARD_MARKER = '<!-- cairn-sweep-leaderboard -->';

/** The leaderboard as a markdown table (best first, at most `maxRows` rows). */
export function leaderboardMarkdown(state: Pick<SweepState, 'spec' | 'leaderboard' | 'counts' | 'trials'>, maxRows = NOTE_ROWS): string {
  const { spec } = state;
  const names = Object.keys(spec.space);
  const c = state.counts;
  const tally = (['finished', 'abandoned', 'failed', 'cancelled', 'running', 'queued'] as const).filter((s) => c[s] > 0).map((s) => `${c[s]} ${s}`).join(', ');
  const lines = [
    LEADERBOARD_MARKER,
    `## Sweep leaderboard`,
    '',
    `Objective: ${spec.objective.metric} (${spec.objective.direction}) · strategy ${spec.strategy.kind} · ${state.trials.length} of ${spec.maxTrials} trials (${tally || 'none yet'}) · parallel ${spec.parallel} · seed ${spec.seed}`,
    '',
    `| rank | trial | run | status | ${cell(spec.objective.metric)} | ${names.map(cell).join(' | ')} | reason |`,
    `|---:|---:|---|---|---:|${names.map(() => '---:|').join('')}---|`,
  ];
  for (const r of state.leaderboard.slice(0, maxRows)) {
    lines.push(`| ${r.rank} | ${r.index} | ${r.runId} | ${r.runStatus} | ${Number.isFinite(r.value) ? fmt(r.value) : '–'} | ${names.map((n) => cell(r.params[n])).join(' | ')} | ${cell(r.reason ?? '')} |`);
  }
  if (state.leaderboard.length > maxRows) lines.push('', `… ${state.leaderboard.length - maxRows} more trials (cairn sweep show lists them all).`);
  return `${lines.join('\n')}\n`;
}
