import { describe, expect, it } from 'vitest';
import { LockGuard, LockTooShortError, MIN_LOCK_MS, checkLockMs, smallestLockMs } from './lock-guard.ts';

/** Blocks this thread's event loop as a synchronous kernel does (without using the CPU). */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('job lock checks', () => {
  it('refuses a lock below the floor at start, with the floor in its message', () => {
    expect(() => checkLockMs(MIN_LOCK_MS)).not.toThrow();
    const e = (() => {
      try {
        checkLockMs(500);
      } catch (err) {
        return err;
      }
      throw new Error('a 500 ms lock was accepted');
    })();
    expect(e).toBeInstanceOf(LockTooShortError);
    expect(e).toMatchObject({ code: 'INVALID_INPUT', lockMs: 500, smallestMs: MIN_LOCK_MS, stallMs: null });
    expect((e as Error).message).toMatch(/--lock-ms 500 is below the floor of 2000 ms.*use --lock-ms 2000 or more/);
  });

  it('names three times the stall, in whole seconds, as the smallest lock that works', () => {
    expect(smallestLockMs(10)).toBe(MIN_LOCK_MS);
    expect(smallestLockMs(2_600)).toBe(8_000);
    expect(smallestLockMs(3_500)).toBe(11_000);
  });

  it('refuses a lock once the event loop has stalled for half of it, counting a stall still under way', async () => {
    const guard = new LockGuard(500);
    try {
      // Checked right after the block, before the loop turns (as right after a step on the main thread).
      block(300);
      const refusal = guard.check('r1', 'main');
      expect(refusal).toBeInstanceOf(LockTooShortError);
      expect(refusal!.stallMs).toBeGreaterThanOrEqual(300);
      expect(refusal!.message).toMatch(/--lock-ms 500 cannot be honoured: the worker's event loop stalled for 0\.\d s during the first steps of run r1 \(training on the main thread.*use --lock-ms 2000 or more/);
      // A lock long enough for that stall holds (generous: this machine is shared).
      const long = new LockGuard(10_000);
      block(300);
      expect(long.check('r1', 'main')).toBeNull();
      long.stop();
    } finally {
      guard.stop();
    }
  });
});
