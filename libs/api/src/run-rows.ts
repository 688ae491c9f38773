import { paramValue, type ParamValue, type RunDetail, type RunStatus, type Store } from '@cairn/store';

export type { ParamValue };

export interface MetricCell {
  last: number;
  min: number | null;
  max: number | null;
  count: number;
  /** The step of `last`. */
  step: number;
}

/** One row of the runs table: what a listing, a comparison and a leaderboard show. */
export interface RunRow {
  id: string;
  name: string;
  experimentId: string;
  experimentName: string;
  status: RunStatus;
  statusReason: string | null;
  tier: string | null;
  parentRunId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  params: Record<string, ParamValue>;
  metrics: Record<string, MetricCell>;
  tags: Record<string, string>;
}

export function toRunRow(run: RunDetail, experimentName: string): RunRow {
  const params: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(run.params)) params[k] = paramValue(v);
  const metrics: Record<string, MetricCell> = {};
  for (const [k, m] of Object.entries(run.metrics)) metrics[k] = { last: m.last, min: m.min, max: m.max, count: m.count, step: m.lastStep };
  return {
    id: run.id,
    name: run.name,
    experimentId: run.experimentId,
    experimentName,
    status: run.status,
    statusReason: run.statusReason,
    tier: run.tier,
    parentRunId: run.parentRunId,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    params,
    metrics,
    tags: run.tags,
  };
}

/** Rows for runs of any experiments, with the experiments' names read in one query. */
export async function toRunRows(store: Store, runs: readonly RunDetail[]): Promise<RunRow[]> {
  const names = await experimentNames(store, runs.map((r) => r.experimentId));
  return runs.map((r) => toRunRow(r, names.get(r.experimentId) ?? ''));
}

export async function experimentNames(store: Store, ids: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  return new Map((await store.getExperiments(unique)).map((e) => [e.id, e.name]));
}
