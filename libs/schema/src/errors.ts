/**
 * Typed errors with stable codes. Every lib throws these so the CLI, the API and
 * the tracking client can map a failure to an exit code or an HTTP status without
 * parsing messages. Messages are one line a user can act on.
 */
export type CairnErrorCode =
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PARAM_CONFLICT'
  | 'INVALID_STATE'
  | 'FILTER_SYNTAX'
  | 'STORE_LOCKED'
  | 'STORE_DAMAGED'
  | 'STORE_UNREACHABLE'
  | 'PORTAL_FAILED';

export class CairnError extends Error {
  readonly code: CairnErrorCode;
  constructor(code: CairnErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class ValidationError extends CairnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_INPUT', message, options);
  }
}

export class NotFoundError extends CairnError {
  constructor(
    readonly kind: string,
    readonly id: string,
  ) {
    super('NOT_FOUND', `${kind} '${id}' not found`);
  }
}

export class ConflictError extends CairnError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/**
 * A write made for an attempt at a run that a newer attempt has taken over (its worker
 * lost the job's lock, and another worker took the job). Code CONFLICT: the write is
 * refused and will never succeed; the worker must stop and leave the run to `current`.
 */
export class FencedError extends CairnError {
  constructor(
    readonly runId: string,
    readonly attempt: number,
    readonly current: number,
  ) {
    super('CONFLICT', `attempt ${attempt} of run ${runId} has been superseded by attempt ${current} (another worker took the run over): its writes are refused`);
  }
}

export class ParamConflictError extends CairnError {
  constructor(
    readonly runId: string,
    readonly key: string,
    readonly existing: string,
    readonly attempted: string,
  ) {
    super(
      'PARAM_CONFLICT',
      `param '${key}' of run ${runId} is already '${truncate(existing)}'; params are immutable, log '${truncate(attempted)}' under another key or start a new run`,
    );
  }
}

export class InvalidStateError extends CairnError {
  constructor(message: string) {
    super('INVALID_STATE', message);
  }
}

/** A filter expression that does not parse; `column` is 1-based. */
export class FilterSyntaxError extends CairnError {
  constructor(
    readonly detail: string,
    readonly column: number,
    readonly input: string,
  ) {
    super('FILTER_SYNTAX', `filter syntax error at column ${column}: ${detail}`);
  }
}

export class StoreLockedError extends CairnError {
  constructor(message: string) {
    super('STORE_LOCKED', message);
  }
}

export class StoreDamagedError extends CairnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_DAMAGED', message, options);
  }
}

export class StoreUnreachableError extends CairnError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNREACHABLE', message, options);
  }
}

export function isCairnError(e: unknown): e is CairnError {
  return e instanceof CairnError;
}

function truncate(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
