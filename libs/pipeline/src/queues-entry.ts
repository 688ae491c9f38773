/*
 * @cairn/pipeline/queues: what a service needs to look at and drive the training queues
 * (connect, queue names, job listings, queue a run that is already bundled, cancel, read
 * a sweep, the default tier settings) without loading the training engine. Nothing in
 * this module graph imports @cairn/engine or tfjs at runtime (types only): the API
 * server imports this, and libs/api's queues-entry test proves it in a fresh process.
 * Submitting a module (it loads and bundles the code), workers and sweeps' advancing
 * live in the main entry.
 */
export { connectRedis, deleteQueueKeys, RedisUnavailableError, DEFAULT_REDIS_URL } from './redis.ts';
export { TierQueues, queueName, DEFAULT_QUEUE_PREFIX, type JobData } from './queues.ts';
export { listQueueJobs, tierOfQueue, JOB_STATES, type JobState, type QueueJob, type ListQueueJobsOptions } from './queue-jobs.ts';
export { countQueueJobs, type TierCounts } from './queue-counts.ts';
export { createQueuedRun, storedParams, bullJobOptions, type QueuedRunInput, type JobSettings } from './queued-run.ts';
export { cancelRun, cancelSweep, cancelChannel, type CancelledSweep } from './cancel.ts';
export { sweepState, listTrialRuns, objectiveValue, type SweepState, type SweepTrial, type SweepLeaderboardRow, type TrialRun } from './sweep-runner/state.ts';
export { readSweepSpec, type SweepSpec, type SweepPolicySpec } from './sweep-runner/spec.ts';
export { DEFAULT_PIPELINE_CONFIG, MAX_PRIORITY, type PipelineConfig, type TierConfig, type ChampionConfig, type SnapshotChoice } from './config/defaults.ts';
export { candidateFilter, promotionsFor, type Promotion } from './config/promotion.ts';
export { TIERS } from '@cairn/engine/tiers';
