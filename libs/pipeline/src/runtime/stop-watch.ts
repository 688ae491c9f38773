/**
 * Names what a stopping worker waits on. A graceful stop can wait on a job's checkpoint,
 * a connection or a thread; when one of them never settles, the operator (and a test's
 * failure message) sees which, instead of a process that sits there saying nothing.
 */
export interface StopWatch {
  /** What the stop waits on from now. */
  step(what: string): void;
  stop(): void;
}

export function stopWatch(log: (line: string) => void, stamp: () => string, everyMs = 15_000): StopWatch {
  const started = Date.now();
  let current = 'starting to stop';
  let since = started;
  const timer = setInterval(() => {
    const s = (ms: number) => `${Math.round(ms / 1000)} s`;
    log(`${stamp()} still stopping after ${s(Date.now() - started)}: waiting for ${current} (${s(Date.now() - since)})`);
  }, everyMs);
  // Never what keeps the process alive.
  timer.unref();
  return {
    step(what) {
      current = what;
      since = Date.now();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
