import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { ValidationError } from '@cairn/schema';

/**
 * The shortest job lock a worker takes. BullMQ renews a job's lock from the worker's
 * event loop every half lock; below 2 s, ordinary pauses of a healthy process (a major
 * garbage collection of a large heap, a Redis failover) come within reach of that.
 */
export const MIN_LOCK_MS = 2_000;
/** The steps at each job's start over which the worker's event loop is measured. */
export const LOCK_CHECK_STEPS = 3;
/**
 * The smallest lock that works is this many times the longest stall measured: renewal
 * survives a stall shorter than half the lock, and the first steps are a sample, so
 * another 50% for the longer stalls they did not show. A lock is refused when the stalls
 * measured already reach half of it (renewal can then be starved outright).
 */
export const LOCK_STALL_FACTOR = 3;

/** A --lock-ms the worker cannot honour: below the floor, or shorter than its measured stalls allow. */
export class LockTooShortError extends ValidationError {
  constructor(
    readonly lockMs: number,
    /** The smallest lock that works. */
    readonly smallestMs: number,
    /** The longest stall of the event loop measured, in ms (null: refused at start, by the floor). */
    readonly stallMs: number | null,
    message: string,
  ) {
    super(message);
  }
}

/** The smallest lock that a worker whose event loop stalls for `stallMs` honours. */
export function smallestLockMs(stallMs: number): number {
  return Math.max(MIN_LOCK_MS, Math.ceil((LOCK_STALL_FACTOR * stallMs) / 1000) * 1000);
}

/** At worker start: a lock below the floor is refused. */
export function checkLockMs(lockMs: number): void {
  if (!Number.isSafeInteger(lockMs) || lockMs < MIN_LOCK_MS) {
    throw new LockTooShortError(
      lockMs,
      MIN_LOCK_MS,
      null,
      `--lock-ms ${lockMs} is below the floor of ${MIN_LOCK_MS} ms: BullMQ renews a job's lock every half lock from the worker's event loop, and shorter locks are lost to ordinary pauses (a major garbage collection, a Redis failover); use --lock-ms ${MIN_LOCK_MS} or more`,
    );
  }
}

/**
 * Measures how long the worker's event loop stalls during a job's start (its preparation
 * and first LOCK_CHECK_STEPS steps): perf_hooks' event-loop delay histogram for the stalls
 * that ended, plus the one under way (the time since the loop last turned, which a check
 * made right after a step on the same loop would otherwise miss). That is what starves
 * lock renewal, whether the loop is held by training on the main thread or by anything
 * else; with training in its thread it stays in milliseconds.
 */
export class LockGuard {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  readonly #tick: NodeJS.Timeout;
  #lastTurn = performance.now();

  constructor(readonly lockMs: number) {
    this.#histogram.enable();
    this.#tick = setInterval(() => void (this.#lastTurn = performance.now()), 20);
    this.#tick.unref();
  }

  /** The longest stall so far, in ms. */
  stallMs(): number {
    const ended = this.#histogram.count > 0 ? this.#histogram.max / 1e6 : 0;
    return Math.max(ended, performance.now() - this.#lastTurn);
  }

  /**
   * Null while the lock can be held: the longest stall is under half of it (BullMQ renews
   * every half lock, so a longer stall at the wrong moment lets the lock expire). Else the
   * refusal, naming the stall and the smallest lock that works with a margin.
   */
  check(runId: string, trainIn: 'thread' | 'main'): LockTooShortError | null {
    const stall = this.stallMs();
    if (2 * stall < this.lockMs) return null;
    const smallest = smallestLockMs(stall);
    const where = trainIn === 'main' ? 'training on the main thread (--train-in main)' : 'training in its thread, so something else held the loop';
    return new LockTooShortError(
      this.lockMs,
      smallest,
      stall,
      `--lock-ms ${this.lockMs} cannot be honoured: the worker's event loop stalled for ${(stall / 1000).toFixed(1)} s during the first steps of run ${runId} (${where}); BullMQ renews the lock every ${(this.lockMs / 2000).toFixed(1)} s from that loop, so another worker could take the job while it trains; use --lock-ms ${smallest} or more`,
    );
  }

  stop(): void {
    clearInterval(this.#tick);
    this.#histogram.disable();
  }
}
