import { StoreUnreachableError, ValidationError } from '@cairn/schema';
import type { EndStatus } from '@cairn/store';
import {
  INGEST_BASE_PATH,
  encodeMetricValue,
  errorFromWire,
  type AddNoteRequest,
  type CreateRunRequest,
  type LogArtifactRequest,
  type LogMetricsRequest,
  type RunInfo,
  type StartRunRequest,
} from './ingest-protocol.ts';
import type { MetricBatch, NoteInput, Transport } from './transport.ts';
import { scriptSettings } from './script-env.ts';

export interface HttpTransportOptions {
  /** The server, `http://host:port` (the ingest path is added), or the full ingest URL. */
  url: string;
  /** Sent as `Authorization: Bearer …` (default: env CAIRN_TOKEN). */
  token?: string;
  /** Per-request limit (default 30 s); a request past it is a StoreUnreachableError. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** For tests or custom agents; defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** Talks JSON over HTTP to a Cairn server's ingest endpoint (see ingest-protocol.ts). */
export class HttpTransport implements Transport {
  readonly location: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: HttpTransportOptions) {
    let u: URL;
    try {
      u = new URL(options.url);
    } catch {
      throw new ValidationError(`invalid tracking URL '${options.url}': expected http(s)://host:port`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new ValidationError(`invalid tracking URL '${options.url}': expected http:// or https://`);
    }
    const path = u.pathname.replace(/\/+$/, '');
    u.pathname = path.endsWith(INGEST_BASE_PATH) ? path : `${path}${INGEST_BASE_PATH}`;
    u.search = '';
    u.hash = '';
    const clean = new URL(u);
    clean.username = '';
    clean.password = '';
    this.base = u.toString().replace(/\/+$/, '');
    this.location = clean.origin;
    // The user's script's CAIRN_TOKEN when no token is given (see script-env.ts).
    const token = options.token ?? scriptSettings().token;
    this.headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...options.headers,
    };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  async createRun(request: CreateRunRequest): Promise<RunInfo> {
    return ((await this.post('/runs', request)) as { run: RunInfo }).run;
  }

  async startRun(runId: string, request: StartRunRequest): Promise<RunInfo> {
    return ((await this.post(`/runs/${enc(runId)}/start`, request)) as { run: RunInfo }).run;
  }

  async logMetrics(runId: string, batch: MetricBatch): Promise<{ inserted: number }> {
    const body: LogMetricsRequest = {
      batchId: batch.batchId,
      points: batch.points.map((p) => ({ key: p.key, value: encodeMetricValue(p.value), step: p.step, wallMs: p.wallMs ?? Date.now() })),
    };
    const res = (await this.post(`/runs/${enc(runId)}/metrics`, body)) as { inserted: number };
    return { inserted: res.inserted };
  }

  async logParams(runId: string, params: Record<string, string | number | boolean>): Promise<void> {
    await this.post(`/runs/${enc(runId)}/params`, { params });
  }

  async setTags(runId: string, tags: Record<string, string>): Promise<void> {
    await this.post(`/runs/${enc(runId)}/tags`, { tags });
  }

  /** The server records the author (whom it authenticated); `note.author` is not sent. */
  async addNote(runId: string, note: NoteInput): Promise<{ id: string }> {
    const body: AddNoteRequest = { body: note.body };
    return ((await this.post(`/runs/${enc(runId)}/notes`, body)) as { note: { id: string } }).note;
  }

  async logArtifact(runId: string, artifact: LogArtifactRequest): Promise<void> {
    await this.post(`/runs/${enc(runId)}/artifacts`, artifact);
  }

  async heartbeat(runId: string): Promise<void> {
    await this.post(`/runs/${enc(runId)}/heartbeat`, {});
  }

  async endRun(runId: string, status: EndStatus, reason?: string | null): Promise<RunInfo> {
    return ((await this.post(`/runs/${enc(runId)}/end`, { status, reason: reason ?? null })) as { run: RunInfo }).run;
  }

  async close(): Promise<void> {
    // fetch pools its connections globally; nothing of ours to release.
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(`${this.base}${path}`, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      throw new StoreUnreachableError(`cannot reach the Cairn server at ${this.location} (${networkReason(e, this.timeoutMs)}); is it running?`, { cause: e });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) return json ?? {};
    throw errorFromWire(res.status, json, this.location);
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

function networkReason(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = err?.cause;
  if (cause?.code) return cause.code;
  return cause?.message || err?.message || String(e);
}
