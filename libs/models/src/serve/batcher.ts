import type { Prediction, ValidatedInput } from '@cairn/engine';

export interface BatcherOptions {
  /** Run a batch as soon as this many rows are waiting. */
  maxRows: number;
  /** Or once the first waiting request has waited this long. */
  maxDelayMs: number;
  /** One model call for several validated requests; each one's predictions, in order. */
  run(inputs: readonly ValidatedInput[]): Promise<Prediction[][]>;
  /** Told after each model call (rows and requests in it), for metrics. */
  onBatch?(rows: number, requests: number): void;
}

interface Waiting {
  input: ValidatedInput;
  at: number;
  resolve(p: Prediction[]): void;
  reject(e: unknown): void;
}

/**
 * Micro-batching for one loaded model: requests (already validated, each on its own) wait
 * in a queue; one model call runs for what is waiting once `maxRows` rows are there or
 * `maxDelayMs` has passed since the first arrived, and each request gets its own slice.
 * One model call at a time: what arrives during a call waits for the next, so batches grow
 * with the load. A failed call fails the requests in it, and only those.
 */
export class Batcher {
  private queue: Waiting[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly o: BatcherOptions) {}

  submit(input: ValidatedInput): Promise<Prediction[]> {
    return new Promise<Prediction[]>((resolve, reject) => {
      this.queue.push({ input, at: Date.now(), resolve, reject });
      this.queuedRows += input.rows;
      this.schedule();
    });
  }

  /** Requests waiting, not counting a batch being run. */
  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const wait = this.queue[0]!.at + this.o.maxDelayMs - Date.now();
    if (this.queuedRows >= this.o.maxRows || wait <= 0) {
      this.clearTimer();
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, wait);
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async flush(): Promise<void> {
    // Whole requests, up to maxRows rows (always at least one, however large).
    let rows = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || rows + this.queue[n]!.input.rows <= this.o.maxRows)) rows += this.queue[n++]!.input.rows;
    const batch = this.queue.splice(0, n);
    this.queuedRows -= rows;
    this.running = true;
    try {
      const results = await this.o.run(batch.map((w) => w.input));
      this.o.onBatch?.(rows, batch.length);
      if (results.length !== batch.length) throw new Error(`the model answered ${results.length} requests of ${batch.length}`);
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      for (const w of batch) w.reject(e);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
