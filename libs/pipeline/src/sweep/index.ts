export * from './space.ts';
export * from './strategies.ts';
export { gridStrategy, gridValues, gridSize } from './grid.ts';
export { randomStrategy, sampleParam, sampleSpace } from './random.ts';
export { tpeStrategy, rankResults, splitResults } from './tpe.ts';
export { planSweep, MAX_TRIALS, type PlanSweepInput, type SweepPlan, type TrialProposal, type NextTrialOptions } from './plan.ts';
export { leaderboard, type LeaderboardRow, type LeaderboardStatus, type LeaderboardTrial } from './leaderboard.ts';
export { truncationVerdict, type TruncationInput, type TruncationVerdict } from './truncation.ts';
export { createRng, type Rand } from '@cairn/engine/random';
