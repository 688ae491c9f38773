import { CairnError, StoreUnreachableError } from '@cairn/schema';
import type { Store } from './types.ts';

// Socket-level failures: the server is down, restarting, or the network between is cut.
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// SQLSTATE class 08 (connection exception), and the server shutting down or starting up.
const SQLSTATES = /^(08...|57P0[123])$/;
// node-postgres reports a dropped connection or a pool that could not connect in words only.
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Connection ended unexpectedly|Client has encountered a connection error|the database system is (starting up|shutting down)/i;

/**
 * Whether an error means PostgreSQL could not be reached (as opposed to a query the
 * server refused). Walks `cause`, since drizzle wraps driver errors.
 */
export function isConnectionError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    if (cur instanceof CairnError) return cur.code === 'STORE_UNREACHABLE';
    const { code, message } = cur as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATES.test(code))) return true;
    if (typeof message === 'string' && MESSAGES.test(message)) return true;
  }
  return false;
}

/**
 * The store with its connection failures turned into StoreUnreachableError
 * (STORE_UNREACHABLE), the one error callers may retry: the tracking client's buffer
 * keeps metric points through it, and a worker waits for the database to come back.
 */
export function withUnreachableErrors(store: Store, where: string, what = `PostgreSQL at ${where}`): Store {
  const wrap = (e: unknown): unknown =>
    !(e instanceof CairnError) && isConnectionError(e)
      ? new StoreUnreachableError(`${what} cannot be reached (${(e as Error).message || String(e)})`, { cause: e })
      : e;
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      // Bound to the store itself: its methods use private fields a Proxy does not have.
      if (prop === 'close') return (value as () => unknown).bind(target);
      // A fenced view reaches the same server: its errors are translated alike.
      if (prop === 'fenced') return (...args: Parameters<Store['fenced']>) => withUnreachableErrors(target.fenced(...args), where, what);
      return (...args: unknown[]) => {
        let out: unknown;
        try {
          out = (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (e) {
          throw wrap(e);
        }
        return out instanceof Promise ? out.catch((e: unknown) => Promise.reject(wrap(e))) : out;
      };
    },
  });
}

export interface RetryOptions {
  /** Keep retrying an unreachable store this long before giving up (default 120 s). */
  windowMs?: number;
  /** First delay; doubles up to maxDelayMs (defaults 200 ms, 5 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each wait: which call, the error, the attempt. */
  onRetry?: (method: string, e: CairnError, attempt: number) => void;
  /** Called when a call that had to be retried went through: after how many attempts and ms. */
  onRecovered?: (method: string, attempts: number, waitedMs: number) => void;
}

/**
 * The Store methods sent again when the connection was lost: those that do the same
 * thing however often they run. A lost connection can hide a commit (the server did the
 * work, the answer never came back), so a method is listed only when running it a
 * second time after a commit changes nothing and answers as the first would have.
 * Everything else, and every method added to Store later until someone lists it here
 * with its reason, reaches the caller as STORE_UNREACHABLE: the outcome is unknown.
 */
export const RETRIED_METHODS = [
  // Reads.
  'listProjects', 'getExperiment', 'listExperiments', 'getRun', 'getRunHead', 'getRunHeads', 'resolveRunId',
  'listNotes', 'listArtifacts', 'getMetricSummaries', 'getMetricSeries', 'getMetricSeriesMany', 'searchRuns',
  'getDataset', 'listDatasets', 'latestSnapshot', 'listSnapshots', 'resolveSnapshotId', 'allSnapshotIds', 'blobRoots',
  'listModels', 'getModel', 'resolveModelVersion', 'aliasHistory', 'listDeployments', 'lineage', 'getRuns',
  'resolveRunIdIn', 'getExperiments', 'listExperimentOwners', 'runColumns', 'countRuns', 'childRunCounts', 'bestRuns',
  'projectsOf', 'describeLineageNodes', 'getSnapshots', 'latestSnapshots', 'listDeploymentsOf',
  'listGateResults', 'getSweep', 'listSweeps', 'listSweepTrials', 'getSweepTrial', 'getPipelineDecisions',
  'listAttempts', 'listQueuedRuns', 'compareRuns',
  // Get-or-create by name: the second call finds what the first made.
  'ensureProject', 'ensureExperiment', 'ensureDataset',
  // Keyed writes that set a value: the second sets the same value.
  'setProjectTeam', 'updateExperiment', 'setExperimentTags', 'setTags', 'deleteTag', 'mergeEnvironment', 'heartbeat',
  'logArtifact', 'updateModelVersion', 'addLineageEdge',
  // The pipeline's records, keyed by run (and tier): a repeat replaces the row with the same values.
  'recordGateResult', 'recordChampionDecision', 'updateSweep',
  // First write wins, and a repeat answers like the first: params (same value is fine),
  // metric points (deduplicated by run, key and step), a snapshot id (recorded once),
  // a run's end (ending the same way again returns the run), a deployment's end.
  'logParams', 'logMetrics', 'recordSnapshot', 'endRun', 'endDeployment',
] as const satisfies readonly (keyof Store)[];

// Not listed, and why: createProject, createRun, createExperiment, addNote, registerModelVersion,
// recordDeployment, setModelAlias (its history row), createSweep and createSweepTrial would act twice
// (a project made by the lost call would answer CONFLICT); startRun would
// count an attempt twice; deleteRun and markLostRuns would answer NOT_FOUND or [] for
// work they did; drizzle and close are not queries.
const RETRIED: ReadonlySet<string> = new Set(RETRIED_METHODS);

/**
 * The store for a long-lived process (a worker): a call of RETRIED_METHODS that finds
 * PostgreSQL unreachable is retried with backoff for up to `windowMs` instead of failing
 * the training it serves; any other call fails at once with STORE_UNREACHABLE.
 * Interactive commands keep the plain store and fail fast.
 */
export function retryUnreachable(store: Store, o: RetryOptions = {}): Store {
  const windowMs = o.windowMs ?? 120_000;
  const base = o.baseDelayMs ?? 200;
  const max = o.maxDelayMs ?? 5_000;
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      // A fenced view is retried alike (a refused write is a CONFLICT, never retried).
      if (prop === 'fenced') return (...args: Parameters<Store['fenced']>) => retryUnreachable(target.fenced(...args), o);
      if (typeof prop !== 'string' || !RETRIED.has(prop)) return (value as () => unknown).bind(target);
      return async (...args: unknown[]) => {
        const started = Date.now();
        const deadline = started + windowMs;
        for (let attempt = 1; ; attempt++) {
          try {
            const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (attempt > 1) o.onRecovered?.(prop, attempt, Date.now() - started);
            return out;
          } catch (e) {
            if (!(e instanceof CairnError) || e.code !== 'STORE_UNREACHABLE' || Date.now() >= deadline) throw e;
            o.onRetry?.(prop, e, attempt);
            const d = Math.min(max, base * 2 ** (attempt - 1));
            await new Promise((r) => setTimeout(r, Math.min(d / 2 + Math.random() * (d / 2), Math.max(0, deadline - Date.now()))));
          }
        }
      };
    },
  });
}
