import { describe, expect, it } from 'vitest';
import { type LeaderboardTrial, leaderboard } from './leaderboard.ts';

const t = (runId: string, value: number, status: LeaderboardTrial['status'] = 'finished', reason?: string): LeaderboardTrial => ({
  runId,
  params: { id: runId },
  value,
  status,
  ...(reason === undefined ? {} : { reason }),
});

describe('leaderboard', () => {
  it('ranks by value in the objective direction', () => {
    const trials = [t('a', 0.3), t('b', 0.1), t('c', 0.2)];
    expect(leaderboard(trials, 'minimize').map((r) => [r.rank, r.runId])).toEqual([
      [1, 'b'],
      [2, 'c'],
      [3, 'a'],
    ]);
    expect(leaderboard(trials, 'maximize').map((r) => r.runId)).toEqual(['a', 'c', 'b']);
  });

  it('puts NaN, failed and queued trials last, by status', () => {
    const trials = [
      t('failed-good', 0.01, 'failed', 'CUDA out of memory'),
      t('nan', Number.NaN, 'abandoned', 'nan: loss is NaN at step 3'),
      t('q', Number.NaN, 'queued'),
      t('ok', 0.5),
      t('run', 0.4, 'running'),
      t('ab', 0.45, 'abandoned', 'median: …'),
      t('fin-inf', Number.POSITIVE_INFINITY),
      t('failed-nan', Number.NaN, 'failed'),
    ];
    const rows = leaderboard(trials, 'minimize');
    expect(rows.map((r) => r.runId)).toEqual(['run', 'ab', 'ok', 'fin-inf', 'nan', 'q', 'failed-good', 'failed-nan']);
    expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows[1]).toEqual({ rank: 2, runId: 'ab', params: { id: 'ab' }, value: 0.45, status: 'abandoned', reason: 'median: …' });
    expect('reason' in rows[0]!).toBe(false);
  });

  it('puts finished before abandoned before running at an equal value, and shares ranks only for full ties', () => {
    const rows = leaderboard([t('r', 1, 'running'), t('a', 1, 'abandoned'), t('f', 1), t('f2', 1), t('best', 0.5), t('z', 2)], 'minimize');
    expect(rows.map((r) => `${r.rank}:${r.runId}`)).toEqual(['1:best', '2:f', '2:f2', '4:a', '5:r', '6:z']);
  });

  it('keeps the input order for ties, shares their rank, and does not mutate its input', () => {
    const trials = [t('x', Number.NaN, 'failed'), t('y', Number.NaN, 'failed'), t('w', 3), t('v', 3)];
    const copy = structuredClone(trials);
    const rows = leaderboard(trials, 'maximize');
    expect(rows.map((r) => `${r.rank}:${r.runId}`)).toEqual(['1:w', '1:v', '3:x', '3:y']);
    expect(trials).toEqual(copy);
    expect(leaderboard([], 'minimize')).toEqual([]);
  });

  it('handles negative values and -Infinity', () => {
    expect(leaderboard([t('a', -1), t('b', -3), t('c', Number.NEGATIVE_INFINITY)], 'minimize').map((r) => r.runId)).toEqual(['b', 'a', 'c']);
    expect(leaderboard([t('a', -1), t('b', -3)], 'maximize').map((r) => r.runId)).toEqual(['a', 'b']);
  });
});
