import { z } from 'zod';
import { TERMINAL_STATUSES, type RunStatus } from '@cairn/schema';
import type { RunDetail, Store } from '@cairn/store';
import { authorizeRun, experimentScope } from '../access.ts';
import { ref, runRef } from '../inputs.ts';
import { pipeline } from '../pipeline.ts';
import { experimentNames } from '../run-rows.ts';
import { procedure, router } from '../trpc.ts';

const PARENT_FILTER = "tags.sweep.kind = 'parent'";

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
  /** The best objective so far; the run once the sweep has finished. */
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

interface SpecView {
  strategy: string | null;
  objective: SweepSummary['objective'];
  maxTrials: number | null;
  parallel: number | null;
}

/** The parts of the stored `sweep.spec` a listing shows; the pipeline validates the whole when it acts on it. */
function specOf(tags: Record<string, string>): SpecView {
  try {
    const raw = JSON.parse(tags['sweep.spec'] ?? '{}') as Record<string, unknown>;
    const o = raw.objective as { metric?: unknown; direction?: unknown } | undefined;
    const strategy = (raw.strategy as { kind?: unknown } | undefined)?.kind;
    return {
      strategy: typeof strategy === 'string' ? strategy : (tags['sweep.strategy'] ?? null),
      objective: o && typeof o.metric === 'string' && (o.direction === 'minimize' || o.direction === 'maximize') ? { metric: o.metric, direction: o.direction } : null,
      maxTrials: typeof raw.maxTrials === 'number' ? raw.maxTrials : null,
      parallel: typeof raw.parallel === 'number' ? raw.parallel : null,
    };
  } catch {
    return { strategy: tags['sweep.strategy'] ?? null, objective: null, maxTrials: null, parallel: null };
  }
}

function summarise(parent: RunDetail, experimentName: string, counts: Partial<Record<RunStatus, number>>): SweepSummary {
  const spec = specOf(parent.tags);
  const created = Object.values(counts).reduce((s, n) => s + (n ?? 0), 0);
  const done = TERMINAL_STATUSES.reduce((s, st) => s + (counts[st] ?? 0), 0);
  const recorded = parent.tags['sweep.best.value'];
  // While it runs, the sweep logs its best so far as the objective metric on the parent.
  const running = spec.objective ? parent.metrics[spec.objective.metric]?.last : undefined;
  const best =
    recorded !== undefined
      ? { value: Number(recorded), runId: parent.tags['sweep.best'] ?? null, trial: parent.tags['sweep.best.trial'] !== undefined ? Number(parent.tags['sweep.best.trial']) : null }
      : running !== undefined
        ? { value: running, runId: null, trial: null }
        : null;
  return {
    id: parent.id,
    name: parent.name,
    experimentId: parent.experimentId,
    experimentName,
    status: parent.status,
    statusReason: parent.statusReason,
    createdAt: parent.createdAt,
    endedAt: parent.endedAt,
    strategy: spec.strategy,
    objective: spec.objective,
    trials: { total: spec.maxTrials, created, done, inFlight: created - done, counts },
    parallel: spec.parallel,
    best,
  };
}

async function summaries(store: Store, parents: readonly RunDetail[]): Promise<SweepSummary[]> {
  if (parents.length === 0) return [];
  const [counts, names] = await Promise.all([store.childRunCounts(parents.map((p) => p.id)), experimentNames(store, parents.map((p) => p.experimentId))]);
  return parents.map((p) => summarise(p, names.get(p.experimentId) ?? '', counts[p.id] ?? {}));
}

export const sweepsRouter = router({
  list: procedure
    .input(z.object({ experimentIds: z.array(ref).max(200).optional(), limit: z.number().int().min(1).max(500).default(100) }).optional())
    .query(async ({ ctx, input }): Promise<SweepSummary[]> => {
      const experimentIds = await experimentScope(ctx, input?.experimentIds);
      if (experimentIds && experimentIds.length === 0) return [];
      const page = await ctx.store.searchRuns({ filter: PARENT_FILTER, experimentIds: experimentIds ?? undefined, limit: input?.limit ?? 100, includeArchived: true });
      return summaries(ctx.store, page.runs);
    }),

  leaderboard: procedure.input(z.object({ sweepId: runRef })).query(async ({ ctx, input }): Promise<SweepLeaderboard> => {
    const id = await authorizeRun(ctx, input.sweepId, 'read');
    const { sweepState } = await pipeline();
    const state = await sweepState(ctx.store, id);
    const [sweep] = await summaries(ctx.store, [state.parent]);
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
