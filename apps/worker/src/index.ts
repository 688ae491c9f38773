export { runWorker, startWorker, workerMain, parseTiers, wholeNumber, WORKER_HELP, type WorkerOptions, type StartedWorker } from './main.ts';
export { WorkerMetrics, serveMetrics, QUEUE_STATES, type JobOutcome } from './metrics.ts';
export { scheduleQueue, scheduleQueueName, registerSchedules, listSchedules, fireSchedule, startScheduleWorker, type RegisteredSchedule, type FireResult, type ScheduleJobData } from './schedules.ts';
export { listWorkerBeats, heartbeatKey, HEARTBEAT_MS, HEARTBEAT_TTL_S, type WorkerBeat } from './heartbeat.ts';
export { loadConfig, queuePrefixFor, redisUrlFor } from './settings.ts';
