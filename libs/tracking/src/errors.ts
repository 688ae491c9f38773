import { CairnError, type CairnErrorCode } from '@cairn/schema';

/**
 * Some logged metric points are not in the store: dropped because the buffer was
 * full (back-pressure), rejected by the store, or still unsent when the run ended.
 * Thrown by `finish`/`fail`/`end` (after the run has been ended) and by `flush`.
 * Its code is the code of the failure behind it (STORE_UNREACHABLE when none).
 */
export class MetricsNotWrittenError extends CairnError {
  constructor(
    code: CairnErrorCode,
    message: string,
    readonly runId: string,
    /** Points that could not be written (still buffered when thrown by `flush`). */
    readonly unwritten: number,
    /** Points never buffered because the buffer was full. */
    readonly dropped: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * Whether a failed call may succeed if sent again: the store or the server could not
 * be reached, or was busy. Validation, not-found and state errors never will.
 */
export function isRetryable(e: unknown): boolean {
  return e instanceof CairnError && (e.code === 'STORE_UNREACHABLE' || e.code === 'STORE_LOCKED');
}

/** One line describing an error, for a run's status reason: "TypeError: x is undefined". */
export function errorReason(e: unknown, max = 2000): string {
  let s: string;
  if (e instanceof Error) {
    const msg = e.message || '(no message)';
    s = e.name && e.name !== 'Error' ? `${e.name}: ${msg}` : msg;
  } else if (typeof e === 'string') {
    s = e;
  } else {
    try {
      s = typeof e === 'object' && e !== null ? JSON.stringify(e) : String(e);
    } catch {
      s = String(e);
    }
  }
  s = s.trim() || 'unknown error';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function codeOf(e: unknown, fallback: CairnErrorCode = 'STORE_UNREACHABLE'): CairnErrorCode {
  return e instanceof CairnError ? e.code : fallback;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
