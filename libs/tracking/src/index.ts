export {
  startRun,
  withRun,
  acquireTransport,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_LOST_RUN_TIMEOUT_MS,
  type StartRunOptions,
} from './start-run.ts';
export type { TrackedRun, LogOptions, ChildRunOptions, TransportLease } from './run.ts';
export { DirectTransport, type Transport, type MetricBatch, type NoteInput } from './transport.ts';
export { HttpTransport, type HttpTransportOptions } from './http-transport.ts';
export { DEFAULT_METRIC_BUFFER_OPTIONS, type MetricBufferOptions } from './metric-buffer.ts';
export { MetricsNotWrittenError, isRetryable, errorReason } from './errors.ts';
export { captureContext, gitState, machineEnvironment, packageLockHash, type CapturedContext, type CaptureOptions } from './environment.ts';
export { removeProcessHooks, processHooksInstalled, activeRunIds } from './process-hooks.ts';
export * from './ingest-protocol.ts';
export * from './ingest-routes.ts';
export { executeIngestCall, createIngestHandler, ingestErrorAnswer, type IngestHandler, type IngestHandlerOptions, type IngestIdentity } from './ingest-handler.ts';
export { createIngestListener, DEFAULT_MAX_INGEST_BODY_BYTES, type IngestListenerOptions } from './ingest-node.ts';
