export { openStore } from './open-store.ts';
export { hostEmbeddedStore, type HostEmbeddedStoreOptions, type HostedStore } from './host.ts';
export { liveHost, type HostInfo } from './host-file.ts';
export { resolveLocation, cairnHome, redactUrl, type OpenStoreOptions, type StoreLocation } from './config.ts';
export { DEFAULT_PROJECT } from './experiments.ts';
export { DEFAULT_SERIES_POINTS, MAX_SERIES_PER_READ } from './series.ts';
export { lttb } from './lttb.ts';
export { paramValue } from './param-value.ts';
export { diffParams, MAX_COMPARE_RUNS, MAX_COMPARE_SERIES } from './run-comparison.ts';
export { isConnectionError, retryUnreachable, type RetryOptions } from './connection-errors.ts';
export type { Db, StoreDriver } from './db.ts';
export * from './types.ts';
export {
  parseFilter,
  printFilter,
  parseOrderBy,
  parseFieldRef,
  printField,
  evaluateFilter,
  filterRowFromRun,
  type FilterExpr,
  type FieldRef,
  type FilterRow,
} from './filter/index.ts';
