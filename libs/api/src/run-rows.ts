import type { RunDetail, RunStatus, Store } from '@cairn/store';

export type ParamValue = string | number | boolean;

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

const PLAIN_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/**
 * Params are stored as text. A value whose text is exactly how JavaScript prints a
 * number (or true/false) goes out as that number (or boolean), so tables sort and
 * charts plot it; anything else ("0.10", "1e-3", "adam") stays the text it was.
 */
export function paramValue(text: string): ParamValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (PLAIN_NUMBER.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n) && String(n) === text) return n;
  }
  return text;
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
