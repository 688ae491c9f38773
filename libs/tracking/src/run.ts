import { randomUUID } from 'node:crypto';
import {
  InvalidStateError,
  MAX_PARAM_VALUE_BYTES,
  TERMINAL_STATUSES,
  ValidationError,
  artifactSchema,
  paramsSchema,
  tagsSchema,
  type ArtifactInput,
  type RunStatus,
} from '@cairn/schema';
import type { EndStatus } from '@cairn/store';
import { MetricsNotWrittenError, codeOf, errorReason, isRetryable, messageOf } from './errors.ts';
import type { RunInfo } from './ingest-protocol.ts';
import { MetricBuffer, type MetricBufferOptions } from './metric-buffer.ts';
import { trackRun, untrackRun } from './process-hooks.ts';
import type { Transport } from './transport.ts';
import { checkStep, metricPoints, validate } from './validate.ts';

export interface LogOptions {
  /**
   * The step of these values. Omitted: the run's next step (one more than the last
   * step used, 0 at first), so `log()` in a loop counts 0, 1, 2, …
   */
  step?: number;
}

/** A run that training code logs through; see `startRun`. */
export interface TrackedRun {
  readonly id: string;
  readonly name: string;
  readonly experimentId: string;
  /** 'running' until `finish`/`fail`/`end` completes; then how it ended. */
  readonly status: RunStatus;
  /** True for the no-op run of `CAIRN_DISABLED=1` / `{ disabled: true }`. */
  readonly disabled: boolean;
  /** The step the next `log()` without a step gets. */
  readonly nextStep: number;
  /** Points logged but not yet acknowledged by the store. */
  readonly pendingPoints: number;
  /** Points not buffered because `maxBufferPoints` were already waiting (back-pressure). */
  readonly droppedPoints: number;
  /** Points the store refused (their batch failed with a non-retryable error). */
  readonly rejectedPoints: number;

  /**
   * Records metric values. Synchronous: checks them (throws ValidationError at once)
   * and buffers them; a background flusher sends batches. Never waits for I/O.
   */
  log(metrics: Record<string, number>, options?: LogOptions): void;
  /** Sends everything buffered; rejects with MetricsNotWrittenError when the store stays unreachable. */
  flush(): Promise<void>;
  /** Params are immutable: the same value again is fine, another value is a ParamConflictError. */
  logParams(params: Record<string, string | number | boolean>): Promise<void>;
  setTags(tags: Record<string, string>): Promise<void>;
  /** A markdown note on the run: what was tried, what went wrong. */
  /** `author` is kept by a direct store; a server records whom it authenticated instead. */
  note(body: string, options?: { author?: string }): Promise<void>;
  /** Records an artifact the run produced (the bytes live elsewhere, addressed by hash). */
  logArtifact(artifact: ArtifactInput): Promise<void>;
  /** A run nested under this one (a trial of a sweep, a fold), through the same transport. */
  startChild(options: ChildRunOptions): Promise<TrackedRun>;
  /** Flushes, then ends the run `finished`. */
  finish(): Promise<void>;
  /** Flushes, then ends the run `failed` with the error's message as the reason. */
  fail(error?: unknown): Promise<void>;
  /**
   * Flushes, then ends the run. The first end wins: later calls return the same
   * promise. Rejects with MetricsNotWrittenError (after ending the run) when some
   * logged points are not in the store.
   */
  end(status: EndStatus, reason?: string | null): Promise<void>;
  /**
   * Lets the run go without ending it: sends what is buffered (once; a failure is
   * ignored), then stops the flusher, the heartbeat and the process hooks. For a worker
   * that hands the run back to its queue, or finds another worker has taken it over.
   * Like `end`, the first call wins and nothing can be logged after it.
   */
  detach(): Promise<void>;
}

export interface ChildRunOptions {
  name?: string;
  /** Defaults to the parent's experiment. */
  experiment?: string;
  params?: Record<string, string | number | boolean>;
  tags?: Record<string, string>;
  tier?: string | null;
  snapshotIds?: string[];
}

export interface RunSettings extends MetricBufferOptions {
  heartbeatIntervalMs: number;
  processHooks: boolean;
  exitTimeoutMs: number;
  onWarning: (message: string) => void;
}

/** A transport held by one or more runs; the last release closes what it opened. */
export interface TransportLease {
  readonly transport: Transport;
  retain(): TransportLease;
  release(): Promise<void>;
}

const RETRIES = 4;

export class ActiveRun implements TrackedRun {
  readonly id: string;
  readonly name: string;
  readonly experimentId: string;
  readonly disabled = false;
  private _status: RunStatus;
  private autoStep = 0;
  private logged = 0;
  private ending: Promise<void> | null = null;
  private readonly buffer: MetricBuffer;
  private hbTimer: NodeJS.Timeout | null = null;
  private hbInflight: Promise<void> | null = null;
  private hbFailing = false;
  private warnedDrop = false;
  private warnedStall = false;
  private readonly warnedReject = new Set<string>();

  constructor(
    info: RunInfo,
    private readonly lease: TransportLease,
    private readonly settings: RunSettings,
    private readonly spawnChild: (parent: ActiveRun, lease: TransportLease, options: ChildRunOptions) => Promise<TrackedRun>,
  ) {
    this.id = info.id;
    this.name = info.name;
    this.experimentId = info.experimentId;
    this._status = info.status;
    const transport = lease.transport;
    this.buffer = new MetricBuffer((batch) => transport.logMetrics(this.id, batch), settings, {
      onDrop: () => {
        if (this.warnedDrop) return;
        this.warnedDrop = true;
        this.warn(
          `run ${this.id}: metric buffer full (${settings.maxBufferPoints} points waiting for ${transport.location}); newer points are being dropped and counted in run.droppedPoints`,
        );
      },
      onReject: (n, e) => {
        const code = codeOf(e, 'INVALID_INPUT');
        if (this.warnedReject.has(code)) return;
        this.warnedReject.add(code);
        this.warn(`run ${this.id}: the store rejected ${n} metric points: ${messageOf(e)}`);
      },
      onStall: (e) => {
        if (this.warnedStall) return;
        this.warnedStall = true;
        this.warn(`run ${this.id}: metrics are not being stored (${messageOf(e)}); ${this.buffer.pending} points kept in memory and retried`);
      },
    });
  }

  get status(): RunStatus {
    return this._status;
  }
  get nextStep(): number {
    return this.autoStep;
  }
  get pendingPoints(): number {
    return this.buffer.pending;
  }
  get droppedPoints(): number {
    return this.buffer.dropped;
  }
  get rejectedPoints(): number {
    return this.buffer.rejected;
  }
  /** Batches the store acknowledged (for tests and diagnostics). */
  get batchesSent(): number {
    return this.buffer.batchesSent;
  }

  /** Starts the flusher, the heartbeat and the process hooks. */
  begin(): this {
    this.buffer.start();
    if (this.settings.heartbeatIntervalMs > 0) {
      this.hbTimer = setInterval(() => this.beat(), this.settings.heartbeatIntervalMs);
      this.hbTimer.unref();
    }
    if (this.settings.processHooks) trackRun(this, { exitTimeoutMs: this.settings.exitTimeoutMs });
    return this;
  }

  log(metrics: Record<string, number>, options?: LogOptions): void {
    if (this.ending) throw this.endedError('log metrics');
    let step: number;
    if (options?.step !== undefined) {
      step = checkStep(options.step);
    } else {
      step = this.autoStep;
    }
    const points = metricPoints(metrics, step, Date.now());
    if (points.length === 0) return;
    if (step >= this.autoStep) this.autoStep = step + 1;
    this.logged += points.length;
    this.buffer.push(points);
  }

  async flush(): Promise<void> {
    try {
      await this.buffer.flush();
    } catch (e) {
      const n = this.buffer.pending;
      throw new MetricsNotWrittenError(
        codeOf(e),
        `${n} metric points of run ${this.id} are not stored yet (${messageOf(e)}); they stay buffered and are retried`,
        this.id,
        n,
        this.buffer.dropped,
        { cause: e },
      );
    }
  }

  async logParams(params: Record<string, string | number | boolean>): Promise<void> {
    this.assertOpen('log params');
    validate(paramsSchema, params, 'params');
    await this.retry(() => this.lease.transport.logParams(this.id, params));
  }

  async setTags(tags: Record<string, string>): Promise<void> {
    this.assertOpen('set tags');
    validate(tagsSchema, tags, 'tags');
    await this.retry(() => this.lease.transport.setTags(this.id, tags));
  }

  async note(body: string, options: { author?: string } = {}): Promise<void> {
    this.assertOpen('add a note');
    if (typeof body !== 'string' || body.trim() === '') throw new ValidationError('a note needs some text');
    if (Buffer.byteLength(body) > 1024 * 1024) throw new ValidationError('a note is at most 1 MiB');
    // Not retried: a note sent twice would be stored twice.
    await this.lease.transport.addNote(this.id, { body, author: options.author });
  }

  async logArtifact(artifact: ArtifactInput): Promise<void> {
    this.assertOpen('log an artifact');
    const a = validate(artifactSchema, artifact, 'artifact');
    await this.retry(() => this.lease.transport.logArtifact(this.id, a));
  }

  startChild(options: ChildRunOptions = {}): Promise<TrackedRun> {
    this.assertOpen('start a child run');
    return this.spawnChild(this, this.lease.retain(), options);
  }

  finish(): Promise<void> {
    return this.end('finished');
  }

  fail(error?: unknown): Promise<void> {
    return this.end('failed', error === undefined ? null : errorReason(error));
  }

  end(status: EndStatus, reason?: string | null): Promise<void> {
    if (this.ending) return this.ending;
    if (!TERMINAL_STATUSES.includes(status)) {
      return Promise.reject(new ValidationError(`'${String(status)}' is not an end status (finished, failed, abandoned, cancelled)`));
    }
    if (reason !== undefined && reason !== null && typeof reason !== 'string') {
      return Promise.reject(new ValidationError('an end reason is a string'));
    }
    const r = reason && reason.length > MAX_PARAM_VALUE_BYTES ? `${reason.slice(0, 1000)}…` : reason;
    this.ending = this.doEnd(status, r ?? null);
    return this.ending;
  }

  detach(): Promise<void> {
    if (this.ending) return this.ending.catch(() => undefined);
    this.ending = (async () => {
      this.buffer.stop();
      if (this.hbTimer) clearInterval(this.hbTimer);
      this.hbTimer = null;
      try {
        await this.buffer.flush();
      } catch {
        // Left to whoever takes the run next: it resumes from its checkpoint and logs again.
      } finally {
        await this.hbInflight;
        untrackRun(this);
        await this.lease.release().catch(() => {});
      }
    })();
    return this.ending;
  }

  private async doEnd(status: EndStatus, reason: string | null): Promise<void> {
    this.buffer.stop();
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = null;
    let flushError: unknown = null;
    try {
      await this.buffer.flush();
    } catch (e) {
      flushError = e;
    }
    const unsent = this.buffer.pending;
    const { dropped, rejected } = this.buffer;
    const lost = unsent + dropped + rejected;
    try {
      if (lost > 0 && unsent === 0) {
        // The store is reachable: leave a mark on the run for whoever looks at it later.
        const tags: Record<string, string> = {};
        if (dropped) tags['cairn.metrics.dropped'] = String(dropped);
        if (rejected) tags['cairn.metrics.rejected'] = String(rejected);
        await this.lease.transport.setTags(this.id, tags).catch(() => {});
      }
      const info = await this.retry(() => this.lease.transport.endRun(this.id, status, reason));
      this._status = info.status;
    } finally {
      await this.hbInflight;
      untrackRun(this);
      await this.lease.release().catch(() => {});
    }
    if (lost > 0) {
      const parts: string[] = [];
      if (dropped) parts.push(`${dropped} dropped (buffer full at ${this.settings.maxBufferPoints} points)`);
      if (rejected) parts.push(`${rejected} rejected by the store`);
      if (unsent) parts.push(`${unsent} unsent (${messageOf(flushError)})`);
      const cause = flushError ?? this.buffer.lastError;
      throw new MetricsNotWrittenError(
        codeOf(cause),
        `run ${this.id} ended ${status}, but ${lost} of ${this.logged} metric points are not stored: ${parts.join(', ')}`,
        this.id,
        unsent + rejected,
        dropped,
        { cause },
      );
    }
  }

  private beat(): void {
    if (this.hbInflight || this.ending) return;
    this.hbInflight = this.lease.transport
      .heartbeat(this.id)
      .then(
        () => {
          this.hbFailing = false;
        },
        (e: unknown) => {
          if (this.hbFailing) return;
          this.hbFailing = true;
          this.warn(`run ${this.id}: heartbeat failed (${messageOf(e)}); the run may be marked lost if this goes on`);
        },
      )
      .finally(() => {
        this.hbInflight = null;
      });
  }

  private async retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isRetryable(e) || attempt >= RETRIES) throw e;
        const d = Math.min(this.settings.retryMaxMs, this.settings.retryBaseMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, d / 2 + Math.random() * (d / 2)));
      }
    }
  }

  private assertOpen(what: string): void {
    if (this.ending) throw this.endedError(what);
  }

  private endedError(what: string): InvalidStateError {
    return new InvalidStateError(`cannot ${what}: run ${this.id} has ended (or is ending); start a new run to log more`);
  }

  private warn(message: string): void {
    try {
      this.settings.onWarning(message);
    } catch {
      /* a warning must never break training */
    }
  }
}

/** The run of `CAIRN_DISABLED=1`: checks what it is given like a real run, stores nothing. */
export class DisabledRun implements TrackedRun {
  readonly id = randomUUID();
  readonly experimentId = '';
  readonly disabled = true;
  readonly pendingPoints = 0;
  readonly droppedPoints = 0;
  readonly rejectedPoints = 0;
  private _status: RunStatus = 'running';
  private autoStep = 0;

  constructor(readonly name: string = 'disabled') {}

  get status(): RunStatus {
    return this._status;
  }
  get nextStep(): number {
    return this.autoStep;
  }
  log(metrics: Record<string, number>, options?: LogOptions): void {
    const step = options?.step !== undefined ? checkStep(options.step) : this.autoStep;
    if (metricPoints(metrics, step, 0).length > 0 && step >= this.autoStep) this.autoStep = step + 1;
  }
  async flush(): Promise<void> {}
  async logParams(params: Record<string, string | number | boolean>): Promise<void> {
    validate(paramsSchema, params, 'params');
  }
  async setTags(tags: Record<string, string>): Promise<void> {
    validate(tagsSchema, tags, 'tags');
  }
  async note(): Promise<void> {}
  async logArtifact(artifact: ArtifactInput): Promise<void> {
    validate(artifactSchema, artifact, 'artifact');
  }
  async startChild(options: ChildRunOptions = {}): Promise<TrackedRun> {
    return new DisabledRun(options.name);
  }
  finish(): Promise<void> {
    return this.end('finished');
  }
  fail(): Promise<void> {
    return this.end('failed');
  }
  async end(status: EndStatus): Promise<void> {
    if (this._status === 'running') this._status = status;
  }
  async detach(): Promise<void> {}
}
