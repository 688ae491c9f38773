import type { Objective } from '@cairn/schema';
import type { PeerCurve, Policy, PolicySpec, TruncationSpec } from '@cairn/engine';
import type { RunStatus, Store } from '@cairn/store';
import { parseSweepSpec } from './policies.ts';
import { sweepRecord } from './spec.ts';
import { listTrialRuns } from './state.ts';
import { truncationPolicy } from './truncation-policy.ts';

/** Ended sibling trials a trial compares itself against (median, bandit, truncation). */
export const MAX_SWEEP_PEERS = 200;

export interface TrialSettings {
  /** The sweep's objective (the trial trains against it: policies read it). */
  objective: Objective;
  /** The sweep's engine policies, on top of the tier's. */
  policies: PolicySpec[];
  /** Truncation selection, built here. */
  extraPolicies: Policy[];
  /** The objective curves of the sweep's ended trials (finished or abandoned). */
  peers: PeerCurve[];
  /** The parent is no longer running: the trial should not train. */
  sweepEnded: { status: RunStatus; reason: string | null } | null;
}

/**
 * What a worker needs to train trial `runId` of sweep `sweepId` (store.getSweepTrial says
 * which): the sweep's objective, policies and the trial's peers.
 */
export async function sweepTrialSettings(store: Store, runId: string, sweepId: string, options: { peers?: boolean } = {}): Promise<TrialSettings> {
  const parent = await store.getRun(sweepId);
  const { record, spec } = await sweepRecord(store, parent.id, parseSweepSpec);
  const live = parent.status === 'running' && record.status === 'running';
  const settings: TrialSettings = {
    objective: spec.objective,
    policies: spec.policies.filter((p): p is PolicySpec => p.kind !== 'truncation'),
    extraPolicies: spec.policies.filter((p): p is TruncationSpec => p.kind === 'truncation').map((p) => truncationPolicy(p, spec.objective.metric)),
    peers: [],
    sweepEnded: live ? null : { status: parent.status !== 'running' ? parent.status : record.status, reason: parent.statusReason },
  };
  if (settings.sweepEnded || options.peers === false) return settings;
  const siblings = (await listTrialRuns(store, parent.id)).map((t) => t.run).filter((r) => r.id !== runId && (r.status === 'finished' || r.status === 'abandoned') && r.metrics[spec.objective.metric]);
  siblings.sort((a, b) => (b.endedAt?.getTime() ?? 0) - (a.endedAt?.getTime() ?? 0));
  for (const r of siblings.slice(0, MAX_SWEEP_PEERS)) {
    const series = await store.getMetricSeries(r.id, spec.objective.metric, { maxPoints: 2000 });
    settings.peers.push({ runId: r.id, points: series.points.map((p) => ({ step: p.step, value: p.value })) });
  }
  return settings;
}
