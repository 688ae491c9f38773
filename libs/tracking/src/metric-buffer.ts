import { randomUUID } from 'node:crypto';
import type { MetricPoint } from '@cairn/store';
import { isRetryable } from './errors.ts';
import type { MetricBatch } from './transport.ts';

export interface MetricBufferOptions {
  /** Send a batch as soon as this many points wait (default 1,000). */
  maxBatchPoints: number;
  /** Send whatever waits at least this often (default 1,000 ms). */
  flushIntervalMs: number;
  /** Points kept while the store is slow or down; beyond it new points are dropped and counted (default 500,000). */
  maxBufferPoints: number;
  /** Tries per batch before the flusher backs off until its next tick (default 5). */
  maxAttempts: number;
  /** First retry delay; doubles each attempt, with jitter (default 250 ms). */
  retryBaseMs: number;
  /** Longest delay between tries (default 30 s). */
  retryMaxMs: number;
}

export const DEFAULT_METRIC_BUFFER_OPTIONS: MetricBufferOptions = {
  maxBatchPoints: 1000,
  flushIntervalMs: 1000,
  maxBufferPoints: 500_000,
  maxAttempts: 5,
  retryBaseMs: 250,
  retryMaxMs: 30_000,
};

export type SendBatch = (batch: MetricBatch) => Promise<unknown>;

interface OpenBatch extends MetricBatch {
  /** Buffered points this batch covers (duplicates of (key, step) included). */
  consumed: number;
}

type PumpResult = 'drained' | 'stalled';

/**
 * The buffer behind `run.log()`. Points wait in order; one batch is in flight at a
 * time. A batch that fails with a retryable error is retried with exponential
 * backoff and jitter, then left at the head of the buffer for the next tick (its
 * points are kept, the delay keeps growing). A batch the store rejects outright
 * (the run was deleted, say) cannot succeed: its points are counted in `rejected`.
 * When `maxBufferPoints` are waiting, new points are dropped and counted in
 * `dropped`; `log()` never blocks and never throws for it.
 */
export class MetricBuffer {
  private queue: MetricPoint[] = [];
  private head = 0;
  private open: OpenBatch | null = null;
  private inflight: Promise<PumpResult> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private stalls = 0;
  private notBefore = 0;

  dropped = 0;
  rejected = 0;
  /** Points the store acknowledged (after deduplication within a batch). */
  sent = 0;
  batchesSent = 0;
  lastError: unknown = null;

  constructor(
    private readonly send: SendBatch,
    readonly options: MetricBufferOptions,
    private readonly hooks: { onDrop?: (n: number) => void; onReject?: (n: number, e: unknown) => void; onStall?: (e: unknown) => void } = {},
  ) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Starts the periodic flusher (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.timer || !(this.options.flushIntervalMs > 0)) return;
    this.timer = setInterval(() => {
      if (this.pending > 0 && !this.inflight && Date.now() >= this.notBefore) void this.pump('all');
    }, this.options.flushIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  push(points: MetricPoint[]): void {
    const room = this.options.maxBufferPoints - this.pending;
    if (points.length > room) {
      const lost = points.length - Math.max(0, room);
      this.dropped += lost;
      points = room > 0 ? points.slice(0, room) : [];
      this.hooks.onDrop?.(lost);
    }
    for (const p of points) this.queue.push(p);
    if (this.pending >= this.options.maxBatchPoints && !this.inflight && !this.scheduled && Date.now() >= this.notBefore) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.pump('full');
      });
    }
  }

  /**
   * Sends everything buffered. Resolves when the buffer is empty; rejects with the
   * last transport error when a batch still fails after `maxAttempts` (its points
   * stay buffered).
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.inflight) await this.inflight;
      if (this.pending === 0) return;
      const result = await this.pump('all');
      if (result === 'stalled') throw this.lastError;
    }
  }

  /** 'full' (the size trigger) sends only full batches; 'all' (the timer, flush) sends everything. */
  private pump(mode: 'full' | 'all'): Promise<PumpResult> {
    if (this.inflight) return this.inflight;
    const p = this.drain(mode).finally(() => {
      this.inflight = null;
    });
    this.inflight = p;
    return p;
  }

  private async drain(mode: 'full' | 'all'): Promise<PumpResult> {
    const min = mode === 'full' ? this.options.maxBatchPoints : 1;
    while (this.open || this.pending >= min) {
      const batch = this.open ?? (this.open = this.takeBatch());
      const outcome = await this.sendWithRetry(batch);
      if (outcome === 'stalled') return 'stalled';
      this.open = null;
      this.head += batch.consumed;
      this.compact();
    }
    return 'drained';
  }

  private takeBatch(): OpenBatch {
    const end = Math.min(this.queue.length, this.head + this.options.maxBatchPoints);
    const seen = new Set<string>();
    const points: MetricPoint[] = [];
    for (let i = this.head; i < end; i++) {
      const p = this.queue[i]!;
      // (key, step) is a point's identity and the first write wins, as in the store.
      const id = `${p.step}\u0000${p.key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      points.push(p);
    }
    return { batchId: randomUUID(), points, consumed: end - this.head };
  }

  private async sendWithRetry(batch: OpenBatch): Promise<'ok' | 'rejected' | 'stalled'> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send({ batchId: batch.batchId, points: batch.points });
        this.stalls = 0;
        this.notBefore = 0;
        this.sent += batch.points.length;
        this.batchesSent++;
        return 'ok';
      } catch (e) {
        this.lastError = e;
        if (!isRetryable(e)) {
          this.rejected += batch.consumed;
          this.hooks.onReject?.(batch.consumed, e);
          return 'rejected';
        }
        if (attempt >= this.options.maxAttempts) {
          this.stalls++;
          this.notBefore = Date.now() + this.backoff(this.stalls + attempt - 1);
          this.hooks.onStall?.(e);
          return 'stalled';
        }
        await sleep(this.backoff(attempt));
      }
    }
  }

  /** Exponential with "equal jitter": half the delay fixed, half random. */
  private backoff(attempt: number): number {
    const d = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (attempt - 1));
    return d / 2 + Math.random() * (d / 2);
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    } else if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
  }
}

function sleep(ms: number): Promise<void> {
  // Ref'd on purpose: a retry in progress must keep the process alive until it is done.
  return new Promise((resolve) => setTimeout(resolve, ms));
}
