export { startModelServer, DEFAULT_BODY_LIMIT, DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_DELAY_MS, DEFAULT_RELOAD_INTERVAL_MS, type ModelServer, type ModelServerOptions } from './server.ts';
export { Batcher, type BatcherOptions } from './batcher.ts';
export { ServeMetrics } from './metrics.ts';
