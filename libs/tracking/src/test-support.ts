/** Helpers for this library's tests (not exported from the package). */
import { StoreUnreachableError } from '@cairn/schema';
import type { EndStatus } from '@cairn/store';
import type { CreateRunRequest, LogArtifactRequest, RunInfo, StartRunRequest } from './ingest-protocol.ts';
import type { MetricBatch, NoteInput, Transport } from './transport.ts';

/**
 * Wraps a real transport, records the metric batches it is asked to send and
 * injects network-like faults into `logMetrics`:
 * - `failBefore`: that many next calls throw before anything is sent;
 * - `failAfter`: that many next calls send, then throw (the answer was lost);
 * - `down`: every call throws until set back to false;
 * - `hold`: calls wait until `release()`.
 */
export class FaultyTransport implements Transport {
  readonly calls: { batchId: string; size: number; outcome: 'ok' | 'failed-before' | 'failed-after' }[] = [];
  failBefore = 0;
  failAfter = 0;
  down = false;
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  constructor(readonly inner: Transport) {}

  get location(): string {
    return this.inner.location;
  }

  hold(): void {
    this.gate = new Promise((r) => (this.openGate = r));
  }

  release(): void {
    this.openGate?.();
    this.gate = null;
  }

  get okBatches(): number[] {
    return this.calls.filter((c) => c.outcome === 'ok').map((c) => c.size);
  }

  async logMetrics(runId: string, batch: MetricBatch): Promise<{ inserted: number }> {
    if (this.gate) await this.gate;
    const rec = { batchId: batch.batchId, size: batch.points.length, outcome: 'ok' as 'ok' | 'failed-before' | 'failed-after' };
    this.calls.push(rec);
    if (this.down || this.failBefore > 0) {
      if (!this.down) this.failBefore--;
      rec.outcome = 'failed-before';
      throw new StoreUnreachableError('cannot reach the store (ECONNRESET, injected)');
    }
    const res = await this.inner.logMetrics(runId, batch);
    if (this.failAfter > 0) {
      this.failAfter--;
      rec.outcome = 'failed-after';
      throw new StoreUnreachableError('connection closed before the answer (injected)');
    }
    return res;
  }

  createRun(r: CreateRunRequest): Promise<RunInfo> {
    return this.inner.createRun(r);
  }
  startRun(id: string, r: StartRunRequest): Promise<RunInfo> {
    return this.inner.startRun(id, r);
  }
  logParams(id: string, p: Record<string, string | number | boolean>): Promise<void> {
    return this.inner.logParams(id, p);
  }
  setTags(id: string, t: Record<string, string>): Promise<void> {
    return this.inner.setTags(id, t);
  }
  addNote(id: string, n: NoteInput): Promise<{ id: string }> {
    return this.inner.addNote(id, n);
  }
  logArtifact(id: string, a: LogArtifactRequest): Promise<void> {
    return this.inner.logArtifact(id, a);
  }
  heartbeat(id: string): Promise<void> {
    return this.inner.heartbeat(id);
  }
  endRun(id: string, s: EndStatus, reason?: string | null): Promise<RunInfo> {
    return this.inner.endRun(id, s, reason);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** The error a function throws synchronously. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw, but the call returned');
}
