import type { Objective } from '@cairn/schema';
import type { RunDetail, RunStatus, Store, SweepRecord, SweepStatus } from '@cairn/store';
import { leaderboard, type LeaderboardRow, type LeaderboardStatus, type Params } from '../sweep/index.ts';
import { sweepRecord, type SweepSpec } from './spec.ts';

/*
 * A sweep read back from the store: its trials by index, their objectives, the counts and
 * the leaderboard. Light (no training engine): the portal's leaderboard reads it.
 */

const IN_FLIGHT: readonly RunStatus[] = ['queued', 'running'];

export interface SweepTrial {
  index: number;
  runId: string;
  name: string;
  status: RunStatus;
  reason: string | null;
  /** The trial's own (swept) params. */
  params: Params;
  /**
   * Its objective: the last value for ended trials (an abandoned trial's last value before
   * it was stopped), the best so far for running ones, NaN when it has none.
   */
  value: number;
}

export type SweepLeaderboardRow = LeaderboardRow & { index: number; runStatus: RunStatus };

export interface SweepState {
  parent: RunDetail;
  /** The sweep's record: its status and best trial as the pipeline recorded them. */
  record: SweepRecord;
  spec: SweepSpec;
  /** By trial index. */
  trials: SweepTrial[];
  counts: Record<RunStatus, number>;
  /** Best first (see leaderboard()); `runStatus` is the trial run's own status (a cancelled trial ranks as failed). */
  leaderboard: SweepLeaderboardRow[];
  /** Every trial created and ended. */
  complete: boolean;
}

/** A trial's run with its index and own params, from its trial record. */
export interface TrialRun {
  index: number;
  params: Params;
  run: RunDetail;
}

/** Trial runs read per query. */
const READ_BATCH = 1_000;

/** A sweep's trials (from its trial records), by index. */
export async function listTrialRuns(store: Store, parentId: string): Promise<TrialRun[]> {
  const records = await store.listSweepTrials(parentId);
  const out: TrialRun[] = [];
  for (let i = 0; i < records.length; i += READ_BATCH) {
    const batch = records.slice(i, i + READ_BATCH);
    const runs = new Map((await store.getRuns(batch.map((t) => t.runId))).map((r) => [r.id, r]));
    for (const t of batch) {
      const run = runs.get(t.runId);
      if (run) out.push({ index: t.index, params: t.params as Params, run });
    }
  }
  return out;
}

/** A trial's objective as SweepTrial.value describes it. */
export function objectiveValue(run: Pick<RunDetail, 'status' | 'metrics'>, objective: Objective): number {
  const m = run.metrics[objective.metric];
  if (!m) return Number.NaN;
  if (run.status === 'running') {
    const best = objective.direction === 'minimize' ? m.min : m.max;
    return best ?? Number.NaN;
  }
  if (run.status === 'queued') return Number.NaN;
  return m.last;
}

export function toTrial({ index, params, run }: TrialRun, spec: SweepSpec): SweepTrial {
  return { index, runId: run.id, name: run.name, status: run.status, reason: run.statusReason, params, value: objectiveValue(run, spec.objective) };
}

export function ended(status: RunStatus): boolean {
  return !IN_FLIGHT.includes(status);
}

export function leaderboardOf(trials: readonly SweepTrial[], spec: SweepSpec): SweepLeaderboardRow[] {
  const byRun = new Map(trials.map((t) => [t.runId, t]));
  const rows = leaderboard(
    trials.map((t) => {
      const status: LeaderboardStatus = t.status === 'cancelled' ? 'failed' : t.status;
      return { runId: t.runId, params: t.params, value: t.value, status, ...(t.reason ? { reason: t.reason } : {}) };
    }),
    spec.objective.direction,
  );
  return rows.map((r) => ({ ...r, index: byRun.get(r.runId)!.index, runStatus: byRun.get(r.runId)!.status }));
}

function countStatuses(trials: readonly SweepTrial[]): Record<RunStatus, number> {
  const counts: Record<RunStatus, number> = { queued: 0, running: 0, finished: 0, failed: 0, abandoned: 0, cancelled: 0 };
  for (const t of trials) counts[t.status]++;
  return counts;
}

/** Everything about a sweep: its parent, spec, trials by index and leaderboard. */
export async function sweepState(store: Store, parentId: string): Promise<SweepState> {
  const parent = await store.getRun(parentId);
  const { record, spec } = await sweepRecord(store, parent.id);
  const trials = (await listTrialRuns(store, parent.id)).map((r) => toTrial(r, spec));
  return stateOf(parent, record, spec, trials);
}

export function stateOf(parent: RunDetail, record: SweepRecord, spec: SweepSpec, trials: SweepTrial[]): SweepState {
  const counts = countStatuses(trials);
  return { parent, record, spec, trials, counts, leaderboard: leaderboardOf(trials, spec), complete: trials.length >= spec.maxTrials && trials.every((t) => ended(t.status)) };
}

/** The best ended trial (finished or abandoned, with a finite objective), or null. */
export function bestOf(spec: SweepSpec, trials: readonly SweepTrial[]): { runId: string; trial: number; value: number } | null {
  const endedTrials = trials.filter((t) => ended(t.status) && t.status !== 'failed' && t.status !== 'cancelled' && Number.isFinite(t.value));
  if (!endedTrials.length) return null;
  const best = endedTrials.reduce((a, b) => ((spec.objective.direction === 'minimize' ? b.value < a.value : b.value > a.value) ? b : a));
  return { runId: best.runId, trial: best.index, value: best.value };
}

/** The sweep status that mirrors how its parent run ended. */
export function sweepStatusOf(status: RunStatus): SweepStatus {
  return status === 'finished' || status === 'cancelled' ? status : status === 'queued' || status === 'running' ? 'running' : 'failed';
}
