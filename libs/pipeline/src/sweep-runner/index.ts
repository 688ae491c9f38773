/*
 * Sweeps on the queue. A sweep is a parent run plus one child run per trial, and its
 * whole state lives in the store, so any worker (or a restarted one) can carry it on:
 *
 * - the parent run (status `running` until the sweep ends) holds the code bundle, the
 *   pinned snapshot and the fixed params; its sweep record (store.getSweep: the `sweeps`
 *   table) holds the spec (space, strategy, seed, maxTrials, parallel, objective,
 *   policies, queue prefix, job options), the sweep's status and its best trial so far;
 * - trial i is a child run (`parentRunId` = the parent) with a trial record (the
 *   `sweep_trials` table: index i, unique per sweep, and its own params), the parent's
 *   code bundle and snapshot, and params = fixed ∪ trial params.
 *
 * None of it is read from tags, which users edit freely: only the pipeline writes sweep
 * records, so editing a run's tags cannot change what a sweep does.
 *
 * advanceSweep reads that back, counts trials in flight (queued or running) and ended,
 * and creates the next ones up to `parallel` in flight and `maxTrials` in all; a proposal
 * is a pure function of the spec, the trial index and the ended trials' results, so a
 * restarted scheduler proposes what the old one would have. Trial indexes stay unique
 * because every advance (and a cancel) holds a Redis lock per sweep. When every trial
 * has ended, the parent ends `finished` with a leaderboard note and its best objective.
 * Workers advance a trial's sweep when the trial ends, and every sweep of their queue
 * prefix when they start and every `sweepIntervalMs` (a trial that ended while no worker
 * was listening, a trial cancelled by hand).
 */

export { SWEEP_SPEC_VERSION, MAX_PARALLEL, parseSweepStrategy, readSweepSpec, type SweepPolicySpec, type SweepSpec } from './spec.ts';
export { parseSweepPolicies, parseSweepSpec } from './policies.ts';
export { startSweep, type StartSweepOptions, type StartedSweep } from './start.ts';
export { listTrialRuns, objectiveValue, sweepState, type SweepTrial, type SweepLeaderboardRow, type SweepState, type TrialRun } from './state.ts';
export type { SweepDeps } from './lock.ts';
export { advanceSweep, advanceSweepOf, advanceRunningSweeps, type SweepProgress } from './advance.ts';
export { LEADERBOARD_MARKER, NOTE_ROWS, leaderboardMarkdown } from './leaderboard-markdown.ts';
export { MAX_SWEEP_PEERS, sweepTrialSettings, type TrialSettings } from './trial-settings.ts';
export { truncationPolicy } from './truncation-policy.ts';
