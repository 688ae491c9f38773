import { z } from 'zod';
import { TERMINAL_STATUSES, type RunStatus } from '@cairn/schema';
import { sweepState } from '@cairn/pipeline/queues';
import type { RunDetail, Store, SweepRecord } from '@cairn/store';
import { authorizeRun, experimentScope } from '../access.ts';
import { ref, runRef } from '../inputs.ts';
import { experimentNames } from '../run-rows.ts';
import { procedure, router } from '../trpc.ts';

export interface SweepSummary {
  /** The parent run's id. */
  id: string;
  name: string;
  experimentId: string;
  experimentName: string;
  status: RunStatus;
  statusReason: string | null;
  createdAt: Date;
  endedAt: Date | null;
  /** grid, random or tpe (what `--strategy bayes` runs). */
  strategy: string | null;
  objective: { metric: string; direction: 'minimize' | 'maximize' } | null;
  trials: {
    /** Trials the sweep will run in all. */
    total: number | null;
    created: number;
    /** Ended, however they ended. */
    done: number;
    inFlight: number;
    counts: Partial<Record<RunStatus, number>>;
  };
  parallel: number | null;
  /** The best objective so far, and its trial. */
  best: { value: number; runId: string | null; trial: number | null } | null;
}

export interface LeaderboardEntry {
  rank: number;
  /** The trial's index in the sweep. */
  index: number;
  runId: string;
  name: string;
  params: Record<string, unknown>;
  /** The objective (NaN when the trial has none yet). */
  value: number;
  /** How the leaderboard ranks it (a cancelled trial ranks as failed). */
  status: 'finished' | 'abandoned' | 'running' | 'queued' | 'failed';
  runStatus: RunStatus;
  reason: string | null;
  /** Stopped early by a policy (median, bandit, truncation, plateau…): the run was abandoned. */
  earlyTerminated: boolean;
}

export interface SweepLeaderboard {
  sweep: SweepSummary;
  rows: LeaderboardEntry[];
}

/** A sweep as its record (which only the pipeline writes) and its parent run say. */
function summarise(parent: RunDetail, sweep: SweepRecord, experimentName: string, counts: Partial<Record<RunStatus, number>>): SweepSummary {
  const created = Object.values(counts).reduce((s, n) => s + (n ?? 0), 0);
  const done = TERMINAL_STATUSES.reduce((s, st) => s + (counts[st] ?? 0), 0);
  return {
    id: parent.id,
    name: parent.name,
    experimentId: parent.experimentId,
    experimentName,
    status: parent.status,
    statusReason: parent.statusReason,
    createdAt: parent.createdAt,
    endedAt: parent.endedAt,
    strategy: sweep.strategy,
    objective: sweep.objective,
    trials: { total: sweep.maxTrials, created, done, inFlight: created - done, counts },
    parallel: sweep.parallel,
    best: sweep.best ? { value: sweep.best.value, runId: sweep.best.runId, trial: sweep.best.trial } : null,
  };
}

async function summaries(store: Store, sweeps: readonly SweepRecord[]): Promise<SweepSummary[]> {
  if (sweeps.length === 0) return [];
  const ids = sweeps.map((s) => s.parentRunId);
  const [parents, counts] = await Promise.all([store.getRuns(ids), store.childRunCounts(ids)]);
  const names = await experimentNames(store, parents.map((p) => p.experimentId));
  const byId = new Map(parents.map((p) => [p.id, p]));
  return sweeps.flatMap((s) => {
    const parent = byId.get(s.parentRunId);
    return parent ? [summarise(parent, s, names.get(parent.experimentId) ?? '', counts[parent.id] ?? {})] : [];
  });
}

export const sweepsRouter = router({
  list: procedure
    .input(z.object({ experimentIds: z.array(ref).max(200).optional(), limit: z.number().int().min(1).max(500).default(100) }).optional())
    .query(async ({ ctx, input }): Promise<SweepSummary[]> => {
      const experimentIds = await experimentScope(ctx, input?.experimentIds);
      if (experimentIds && experimentIds.length === 0) return [];
      return summaries(ctx.store, await ctx.store.listSweeps({ ...(experimentIds ? { experimentIds } : {}), limit: input?.limit ?? 100 }));
    }),

  leaderboard: procedure.input(z.object({ sweepId: runRef })).query(async ({ ctx, input }): Promise<SweepLeaderboard> => {
    const id = await authorizeRun(ctx, input.sweepId, 'read');
    const state = await sweepState(ctx.store, id);
    const [sweep] = await summaries(ctx.store, [state.record]);
    const trials = new Map(state.trials.map((t) => [t.runId, t]));
    return {
      sweep: sweep!,
      rows: state.leaderboard.map((r) => ({
        rank: r.rank,
        index: r.index,
        runId: r.runId,
        name: trials.get(r.runId)?.name ?? '',
        params: r.params,
        value: r.value,
        status: r.status,
        runStatus: r.runStatus,
        reason: r.reason ?? null,
        earlyTerminated: r.runStatus === 'abandoned',
      })),
    };
  }),
});
