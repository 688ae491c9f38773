import type { ChampionDecision, GateRecord, GateValue, PipelineDecisions, RunAttempt, SweepRecord } from '@cairn/store';

/*
 * What the pipeline decided about a run, as the portal shows it: read from the store's
 * pipeline tables (gate results, sweeps, champion decisions, attempts) and the run's queue
 * prefix, which only the pipeline and the store write. Tags named gate, sweep.*, champion,
 * attempt.* or queue are the user's and are shown as tags.
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

/** One pickup of the run: by a worker (its job taken, retried, handed back, taken over) or a script's start. */
export interface AttemptView {
  /** From 1; the fencing token the attempt's writes carried. */
  attempt: number;
  /** host:pid:nonce of the worker; null for a script's own start. */
  workerId: string | null;
  startedAt: Date;
  /** Null while it runs. */
  endedAt: Date | null;
  /** The checkpoint step it resumed from; null when it started from scratch. */
  resumedFromStep: number | null;
  /** Null while it runs. */
  outcome: RunAttempt['outcome'];
  /** Why it ended so: the retried failure, who took it over. */
  detail: string | null;
}

export interface PipelineView {
  /** The BullMQ prefix the pipeline queued the run under; null when it did not queue it. */
  queue: string | null;
  /** Every attempt, first first. */
  attempts: AttemptView[];
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

export function attemptView(a: RunAttempt): AttemptView {
  return { attempt: a.attempt, workerId: a.workerId, startedAt: a.startedAt, endedAt: a.endedAt, resumedFromStep: a.resumedFromStep, outcome: a.outcome, detail: a.detail };
}

export function pipelineView(d: PipelineDecisions, queue: string | null): PipelineView {
  return {
    queue,
    attempts: d.attempts.map(attemptView),
    gates: d.gates.map(gateView),
    champion: d.champion.map((c) => ({ tier: c.tier, decision: c.decision, model: c.model, alias: c.alias, metric: c.metric, challenger: c.challenger, champion: c.champion, version: c.version, detail: c.detail, decidedAt: c.decidedAt })),
    sweep: d.sweep ? { strategy: d.sweep.strategy, objective: d.sweep.objective, maxTrials: d.sweep.maxTrials, parallel: d.sweep.parallel, status: d.sweep.status, best: d.sweep.best, endedAt: d.sweep.endedAt } : null,
    trial: d.trial ? { sweepId: d.trial.sweepId, index: d.trial.index, params: d.trial.params } : null,
  };
}
