import type { ChampionDecision, GateRecord, GateValue, PipelineDecisions, SweepRecord } from '@cairn/store';

/*
 * What the pipeline decided about a run, as the portal shows it: read from the store's
 * pipeline tables (gate results, sweeps, champion decisions), which only the pipeline
 * writes. Tags named gate, sweep.* or champion are the user's and are shown as tags.
 */

/** A tier gate's verdict on a run. */
export interface GateView {
  tier: string;
  passed: boolean;
  expression: string;
  /** Every field the expression names, with the run's value when the gate was evaluated. */
  values: Record<string, GateValue>;
  /** Metrics the gate names that the run lacked (or held as NaN). */
  missing: string[];
  evaluatedAt: Date;
}

export interface ChampionView {
  tier: string;
  decision: ChampionDecision['decision'];
  model: string;
  alias: string;
  metric: string;
  challenger: number | null;
  champion: number | null;
  version: number | null;
  detail: string;
  decidedAt: Date;
}

export interface SweepView {
  strategy: string;
  objective: SweepRecord['objective'];
  maxTrials: number;
  parallel: number;
  status: SweepRecord['status'];
  best: SweepRecord['best'];
  endedAt: Date | null;
}

export interface PipelineView {
  /** One per tier gated, oldest first. */
  gates: GateView[];
  champion: ChampionView[];
  /** The run is a sweep's parent. */
  sweep: SweepView | null;
  /** The run is trial `index` of sweep `sweepId`, with its own params. */
  trial: { sweepId: string; index: number; params: Record<string, unknown> } | null;
}

export function gateView(g: GateRecord): GateView {
  return { tier: g.tier, passed: g.passed, expression: g.expression, values: g.values, missing: g.missing, evaluatedAt: g.evaluatedAt };
}

export function pipelineView(d: PipelineDecisions): PipelineView {
  return {
    gates: d.gates.map(gateView),
    champion: d.champion.map((c) => ({ tier: c.tier, decision: c.decision, model: c.model, alias: c.alias, metric: c.metric, challenger: c.challenger, champion: c.champion, version: c.version, detail: c.detail, decidedAt: c.decidedAt })),
    sweep: d.sweep ? { strategy: d.sweep.strategy, objective: d.sweep.objective, maxTrials: d.sweep.maxTrials, parallel: d.sweep.parallel, status: d.sweep.status, best: d.sweep.best, endedAt: d.sweep.endedAt } : null,
    trial: d.trial ? { sweepId: d.trial.sweepId, index: d.trial.index, params: d.trial.params } : null,
  };
}
