export { connectRedis, redisUrl, RedisUnavailableError, DEFAULT_REDIS_URL } from './redis.ts';
export { TierQueues, queueName, DEFAULT_QUEUE_PREFIX, type JobData } from './queues.ts';
export { bundleTraining, codeCacheDir, materialiseCode } from './bundle.ts';
export { materialiseSnapshot } from './materialise.ts';
export { trackingReporter, lastCheckpoint } from './reporter.ts';
export { submitRun, storedParams, type SubmitOptions, type Submitted } from './submit.ts';
export { processRun, startWorkers, cancelRun, cancelChannel, paramsFromStore, jobOptions, HandedBackError, type WorkerDeps, type WorkerPool, type ProcessResult } from './worker.ts';
export * from './config.ts';
export { evaluateGate, recordGate, applyGate, gateFields, type GateResult } from './gates.ts';
