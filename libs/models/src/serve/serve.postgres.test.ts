import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, type ModelCard, type PackagedModel, type Prediction } from '@cairn/engine';
import { CairnError } from '@cairn/schema';
import { LocalBlobStore } from '@cairn/snapshot';
import type { ModelVersion, Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { loadModelVersion, registerRunModel, startModelServer, type ModelServer, type ModelServerOptions } from '../index.ts';

const FEATURES = ['a', 'b', 'c'] as const;
type Row = Record<(typeof FEATURES)[number], number>;

function card(): ModelCard {
  return {
    name: 'tiny',
    params: {},
    metrics: { val_acc: 0.75 },
    objective: { metric: 'val_acc', direction: 'maximize' },
    backend: 'cpu',
    seed: 1,
    createdAt: '2025-01-02T03:04:05.000Z',
    data: { inputShape: [3], counts: { train: 10 }, task: 'classification', features: [...FEATURES], label: 'k', classes: ['x', 'y'], numClasses: 2, normalization: { method: 'standard', offset: [1, 2, 3], scale: [2, 2, 2] }, source: 't.csv', totalRecords: 10 },
  };
}

/** A tiny softmax classifier with fixed weights (`sign` flips them, so two models disagree). */
function tinyModel(sign: 1 | -1): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax' })] });
  model.layers[0]!.setWeights([tf.tensor2d([[sign, -sign], [0.5 * sign, -0.25 * sign], [-sign, 2 * sign]]), tf.tensor1d([0.1, -0.1])]);
  return model;
}

/** Deterministic rows (a small LCG), so a failure can be replayed. */
function rowMaker(seed: number): (n: number) => Row[] {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 20 - 10;
  return (n) => Array.from({ length: n }, () => ({ a: next(), b: next(), c: next() }));
}

// ---------------------------------------------------------------- an HTTP client for the tests

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

interface Send {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Sends the body in pieces without a content-length (chunked). */
  chunked?: boolean;
  agent?: http.Agent;
  timeoutMs?: number;
}

/** One request; resolves with the whole answer, rejects on a reset or hang before it arrives. */
function send(base: string, o: Send): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    let answered = false;
    const u = new URL(base);
    // Node's client frames a GET/DELETE/OPTIONS body only when told its length.
    const headers = { ...o.headers };
    if (o.body !== undefined && !o.chunked) headers['content-length'] = String(typeof o.body === 'string' ? Buffer.byteLength(o.body) : o.body.length);
    // The path as given (not resolved against the base: `//x` must stay a path).
    const req = http.request({ host: u.hostname, port: u.port, path: o.path, method: o.method ?? 'GET', headers, agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        answered = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (e) => {
        if (!answered) reject(e);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer to ${o.method ?? 'GET'} ${o.path.slice(0, 80)} in ${o.timeoutMs ?? 10_000} ms`)), o.timeoutMs ?? 10_000);
    // An error after the whole answer came (the server closing after a 413) is no failure.
    req.on('error', (e) => {
      clearTimeout(timer);
      if (!answered) reject(e);
    });
    if (o.body === undefined) req.end();
    else if (!o.chunked) req.end(o.body);
    else {
      const bytes = typeof o.body === 'string' ? Buffer.from(o.body) : Buffer.from(o.body);
      for (let at = 0; at < bytes.length; at += 1024) req.write(bytes.subarray(at, at + 1024));
      req.end();
    }
  });
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const postJson = (base: string, body: unknown, agent?: http.Agent) => send(base, { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: JSON.stringify(body), ...(agent ? { agent } : {}) });

function json(r: Reply): any {
  expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
  return JSON.parse(r.text);
}

/** The sum of a metric's samples whose labels include `labels`; NaN when there are none. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = NaN;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[3]);
  }
  return sum;
}

async function metricsOf(base: string): Promise<string> {
  const r = await send(base, { path: '/metrics' });
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toMatch(/^text\/plain/);
  return r.text;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A port nothing listens on (for the checks that a server let its port go). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Writes `head` (and `body`, unless null) on a raw socket and resolves with the first answer
 * (status and parsed JSON) as soon as it is complete, without ending the request: proof the
 * server answered before reading a body it was still owed.
 */
function rawAnswer(port: number, head: string, body: Buffer | null): Promise<{ status: number; json: any; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const c = net.connect(port, '127.0.0.1', () => {
      c.write(head);
      if (body) c.write(body);
    });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error('no answer in 5 s'));
    }, 5_000);
    c.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = got.subarray(0, end).toString();
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? NaN);
      if (got.length < end + 4 + length) return;
      clearTimeout(timer);
      c.destroy();
      resolve({ status: Number(headers.split(' ')[1]), json: JSON.parse(got.subarray(end + 4, end + 4 + length).toString()), ms: Date.now() - t0 });
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Streams a chunked body that never ends and reports how much more the server took after
 * refusing it before it cut the connection (Infinity when it never did, 16 MiB later).
 */
function takenAfterRefusal(port: number): Promise<{ status: number; after: number }> {
  return new Promise((resolve, reject) => {
    const piece = Buffer.alloc(256 * 1024, 0x20);
    const frame = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
    let status = 0;
    let after = 0;
    let done = false;
    const finish = (v: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.destroy();
      resolve({ status, after: v });
    };
    const timer = setTimeout(() => finish(Infinity), 10_000);
    const c = net.connect(port, '127.0.0.1', () => {
      c.write('POST /predict HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
      const pump = () => {
        if (done || c.destroyed) return;
        if (after > 16 * 1024 * 1024) return finish(Infinity);
        if (status) after += piece.length;
        if (c.write(frame)) setImmediate(pump);
        else c.once('drain', pump);
      };
      pump();
    });
    let got = '';
    c.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!status && got.includes('\r\n\r\n')) status = Number(got.split(' ')[1]);
    });
    c.on('close', () => (status ? finish(after) : reject(new Error('closed before an answer'))));
    c.on('error', () => {});
  });
}

// ---------------------------------------------------------------- the tests

describe.each(testDrivers())('model server on $name', (engine) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-serve-'));
  let store: Store;
  let blobs: LocalBlobStore;
  let v1: ModelVersion;
  let run2: string;
  /** The packaged models, loaded directly: what the server must answer. */
  let ref1: PackagedModel;
  const servers: ModelServer[] = [];
  const agents: http.Agent[] = [];
  const cacheDir = path.join(tmp, 'cache');

  const start = async (o: Partial<ModelServerOptions> = {}) => {
    const s = await startModelServer({ store, blobs, ref: 'tiny@production', cacheDir, reloadIntervalMs: 0, ...o });
    servers.push(s);
    return s;
  };
  const agent = (maxSockets = 8) => {
    const a = new http.Agent({ keepAlive: true, maxSockets });
    agents.push(a);
    return a;
  };
  const expected = async (model: PackagedModel, rows: Row[]) => JSON.parse(JSON.stringify(await model.predict({ rows }))) as Prediction[];

  beforeAll(async () => {
    store = await engine.open();
    blobs = new LocalBlobStore(path.join(tmp, 'blobs'));
    const exp = await store.ensureExperiment({ name: 'tiny' });
    const runs: string[] = [];
    for (const sign of [1, -1] as const) {
      const run = await store.createRun({ experimentId: exp.id });
      for (const f of await exportModel(tinyModel(sign), blobs, card())) await store.logArtifact(run.id, f);
      await store.endRun(run.id, 'finished');
      runs.push(run.id);
    }
    run2 = runs[1]!;
    v1 = await registerRunModel({ store, blobs, runId: runs[0]!, name: 'tiny' });
    await store.setModelAlias('tiny', 'production', 1);
    ref1 = await loadModelVersion({ blobs, version: v1, cacheDir: path.join(tmp, 'reference') });
  });

  afterAll(async () => {
    for (const s of servers) await s.close().catch(() => {});
    for (const a of agents) a.destroy();
    ref1?.dispose();
    await engine.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('predicts what the packaged model predicts, and answers /health, /metadata and /metrics', async () => {
    const server = await start({ environment: 'prod-eu' });
    const rows = rowMaker(1)(3);
    const r = await postJson(server.url, { rows });
    expect(r.status).toBe(200);
    expect(json(r)).toEqual({ model: 'tiny', version: 1, predictions: await expected(ref1, rows) });
    // The two models disagree somewhere, so the comparison above can tell them apart.
    expect(json(r).predictions.map((p: { label: string }) => p.label)).toContain('y');

    // A validation error is a 400 carrying the validator's own message.
    const bad = { rows: [{ a: 1, b: 'two', c: 3 }] };
    const v = await postJson(server.url, bad);
    expect(v.status).toBe(400);
    expect(() => ref1.validate(bad)).toThrow();
    let want = '';
    try {
      ref1.validate(bad);
    } catch (e) {
      want = (e as Error).message;
    }
    expect(json(v)).toEqual({ error: { code: 'INVALID_INPUT', message: want } });
    expect(want).toMatch(/rows\[0\]\.b: expected a finite number, got "two"/);

    const h = await send(server.url, { path: '/health' });
    expect(h.status).toBe(200);
    expect(json(h)).toEqual({ status: 'ok', model: 'tiny', version: 1 });

    const m = json(await send(server.url, { path: '/metadata' }));
    expect(m).toMatchObject({
      model: 'tiny',
      version: 1,
      versionId: v1.id,
      ref: 'tiny@production',
      alias: 'production',
      environment: 'prod-eu',
      artifactHash: v1.artifactHash,
      runId: v1.runId,
      deploymentId: server.deploymentId(),
      input: { kind: 'table', features: ['a', 'b', 'c'], task: 'classification', classes: ['x', 'y'] },
      card: { metrics: { val_acc: 0.75 }, objective: { metric: 'val_acc', direction: 'maximize' }, createdAt: '2025-01-02T03:04:05.000Z' },
    });
    expect(Number.isNaN(Date.parse(m.loadedAt))).toBe(false);
    expect(server.version().id).toBe(v1.id);

    const deployments = await store.listDeployments({ active: true });
    expect(deployments.find((d) => d.id === server.deploymentId())).toMatchObject({ modelVersionId: v1.id, environment: 'prod-eu', host: os.hostname(), stoppedAt: null });

    const text = await metricsOf(server.url);
    expect(metric(text, 'cairn_serve_requests_total', { route: '/predict', code: '200' })).toBe(1);
    expect(metric(text, 'cairn_serve_requests_total', { route: '/predict', code: '400' })).toBe(1);
    expect(metric(text, 'cairn_serve_requests_total', { route: '/health', code: '200' })).toBe(1);
    expect(metric(text, 'cairn_serve_requests_total', { route: '/metadata', code: '200' })).toBe(1);
    expect(metric(text, 'cairn_serve_request_duration_seconds_count', { route: '/predict' })).toBe(2);
    expect(metric(text, 'cairn_serve_predicted_rows_total')).toBe(3);
    expect(metric(text, 'cairn_serve_model_calls_total')).toBe(1);
    expect(metric(text, 'cairn_serve_model_version', { model: 'tiny' })).toBe(1);
    expect(metric(text, 'cairn_serve_reloads_total', { result: 'success' })).toBe(0);
    // The scrape itself is counted on the next one.
    expect(metric(await metricsOf(server.url), 'cairn_serve_requests_total', { route: '/metrics', code: '200' })).toBe(1);
  });

  it('answers each malformed request with its own 4xx and a JSON error', async () => {
    const server = await start();
    const rows = rowMaker(2)(2);
    const cases: Array<[string, Send, number, string]> = [
      ['malformed JSON', { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: '{"rows": [' }, 400, 'INVALID_JSON'],
      ['empty body', { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: '' }, 400, 'INVALID_JSON'],
      ['not UTF-8', { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }, 400, 'INVALID_JSON'],
      ['text/plain', { method: 'POST', path: '/predict', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ rows }) }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['no content-type', { method: 'POST', path: '/predict', body: JSON.stringify({ rows }) }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['latin1 JSON', { method: 'POST', path: '/predict', headers: { 'content-type': 'application/json; charset=iso-8859-1' }, body: JSON.stringify({ rows }) }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['over the limit', { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: JSON.stringify({ rows: rowMaker(3)(20_000) }) }, 413, 'PAYLOAD_TOO_LARGE'],
      ['over the limit, chunked', { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: JSON.stringify({ rows: rowMaker(3)(20_000) }), chunked: true }, 413, 'PAYLOAD_TOO_LARGE'],
      ['deeply nested', { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: `{"rows":${'['.repeat(200_000)}${']'.repeat(200_000)}}` }, 400, 'INVALID_INPUT'],
      ['instances to a table model', { method: 'POST', path: '/predict', headers: JSON_HEADERS, body: JSON.stringify({ instances: [[1, 2, 3]] }) }, 400, 'INVALID_INPUT'],
      ['GET /predict', { method: 'GET', path: '/predict' }, 405, 'METHOD_NOT_ALLOWED'],
      ['DELETE /health', { method: 'DELETE', path: '/health' }, 405, 'METHOD_NOT_ALLOWED'],
      ['unknown path', { method: 'GET', path: '/nope' }, 404, 'NOT_FOUND'],
      ['unknown path, POST', { method: 'POST', path: '/predict/', headers: JSON_HEADERS, body: '{}' }, 404, 'NOT_FOUND'],
    ];
    for (const [what, req, status, code] of cases) {
      const r = await send(server.url, req);
      expect({ what, status: r.status }).toEqual({ what, status });
      const body = json(r);
      expect({ what, code: body.error.code }).toEqual({ what, code });
      expect(typeof body.error.message).toBe('string');
    }
    // A request line the HTTP parser refuses still gets a JSON 400.
    const raw = await new Promise<string>((resolve, reject) => {
      const port = Number(new URL(server.url).port);
      const c = net.connect(port, '127.0.0.1', () => c.end('BREW /predict HTCPCP/1.0\r\n\r\n'));
      let got = '';
      c.on('data', (d) => (got += d.toString()));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error.code).toBe('BAD_REQUEST');
    // Over the limit: answered without waiting for (or keeping) the rest of the body.
    const port = Number(new URL(server.url).port);
    const declared = await rawAnswer(port, 'POST /predict HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n', null);
    expect([declared.status, declared.json.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const chunk = Buffer.alloc(2 * 1024 * 1024, 0x20);
    const streamed = await rawAnswer(port, 'POST /predict HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n', Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    expect([streamed.status, streamed.json.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    // A client that keeps sending after its 413 is cut off after a bounded amount.
    const endless = await takenAfterRefusal(port);
    expect(endless.status).toBe(413);
    expect(endless.after).toBeLessThan(8 * 1024 * 1024);

    // And the server still serves.
    const ok = await postJson(server.url, { rows });
    expect(json(ok).predictions).toEqual(await expected(ref1, rows));
  });

  it('micro-batches concurrent requests into fewer model calls, each answered with its own rows', async () => {
    const make = rowMaker(4);
    const requests = Array.from({ length: 40 }, (_, i) => make((i % 3) + 1));
    const totalRows = requests.reduce((n, r) => n + r.length, 0);
    const wants = await Promise.all(requests.map((rows) => expected(ref1, rows)));
    // Five bad requests among them: each fails alone, naming its own bad value.
    const bads = Array.from({ length: 5 }, (_, i) => ({ rows: [{ a: 1, b: 2, c: `bad-${i}` }] }));

    const batched = await start({ batching: { maxBatchRows: 256, maxDelayMs: 25 } });
    const pool = agent(64);
    const replies = await Promise.all([...requests.map((rows) => postJson(batched.url, { rows }, pool)), ...bads.map((b) => postJson(batched.url, b, pool))]);
    replies.slice(0, 40).forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(json(r)).toEqual({ model: 'tiny', version: 1, predictions: wants[i] });
    });
    replies.slice(40).forEach((r, i) => {
      expect(r.status).toBe(400);
      expect(json(r).error.message).toContain(`"bad-${i}"`);
    });
    const text = await metricsOf(batched.url);
    const calls = metric(text, 'cairn_serve_model_calls_total');
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThan(40);
    expect(metric(text, 'cairn_serve_batch_rows_count')).toBe(calls);
    expect(metric(text, 'cairn_serve_batch_rows_sum')).toBe(totalRows);
    expect(metric(text, 'cairn_serve_batch_requests_sum')).toBe(40);
    expect(metric(text, 'cairn_serve_predicted_rows_total')).toBe(totalRows);

    // Without batching: one model call per request.
    const single = await start({ batching: false });
    const again = await Promise.all(requests.map((rows) => postJson(single.url, { rows }, pool)));
    again.forEach((r, i) => expect(json(r).predictions).toEqual(wants[i]));
    const text2 = await metricsOf(single.url);
    expect(metric(text2, 'cairn_serve_model_calls_total')).toBe(40);
    expect(metric(text2, 'cairn_serve_batch_requests_sum')).toBe(40);
    expect(metric(text2, 'cairn_serve_batch_rows_sum')).toBe(totalRows);

    // maxBatchRows alone starts a batch: with a minute's delay these answer at once, in one call.
    const full = await start({ batching: { maxBatchRows: 4, maxDelayMs: 60_000 } });
    const t0 = Date.now();
    const two = await Promise.all([postJson(full.url, { rows: requests[1] }, pool), postJson(full.url, { rows: requests[4] }, pool)]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(two.map((r) => json(r).predictions)).toEqual([wants[1], wants[4]]);
    expect(metric(await metricsOf(full.url), 'cairn_serve_model_calls_total')).toBe(1);
  });

  it('reloads when the alias moves: new version served, old deployment ended, no request dropped; a failed reload keeps the old one', async () => {
    await store.setModelAlias('tiny', 'staging', 1);
    const lines: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const server = await start({ ref: 'tiny@staging', reloadIntervalMs: 200, log: (l) => lines.push(l) });
    const tensorsServing = tf.memory().numTensors;
    expect(tensorsServing).toBeGreaterThan(tensorsBefore);
    const first = server.deploymentId();
    const pool = agent(4);
    const rows = rowMaker(5)(3);

    // Steady traffic across the swap: every request must be answered, by one version or the other.
    let stop = false;
    const seen: Array<{ status: number; version: number }> = [];
    const traffic = (async () => {
      while (!stop) {
        const r = await postJson(server.url, { rows }, pool);
        seen.push({ status: r.status, version: JSON.parse(r.text).version });
      }
    })();

    const v2 = await registerRunModel({ store, blobs, runId: run2, name: 'tiny' });
    await store.setModelAlias('tiny', 'staging', v2.version);
    const meta = await waitFor('the new version in /metadata', async () => {
      const m = json(await send(server.url, { path: '/metadata', agent: pool }));
      return m.version === v2.version ? m : undefined;
    });
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await traffic;

    expect(meta).toMatchObject({ versionId: v2.id, artifactHash: v2.artifactHash, runId: run2, deploymentId: server.deploymentId(), environment: 'staging' });
    expect(server.version().id).toBe(v2.id);
    expect(server.deploymentId()).not.toBe(first);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    expect(seen.at(-1)!.version).toBe(v2.version);
    // The old model was disposed once its last request was done: one model's tensors, not two.
    expect(tf.memory().numTensors).toBe(tensorsServing);

    const ref2 = await loadModelVersion({ blobs, version: v2, cacheDir: path.join(tmp, 'reference') });
    try {
      const after = json(await postJson(server.url, { rows }, pool));
      expect(after).toEqual({ model: 'tiny', version: v2.version, predictions: await expected(ref2, rows) });
      expect(after.predictions).not.toEqual(await expected(ref1, rows));
    } finally {
      ref2.dispose();
    }

    const old = (await store.listDeployments({ modelVersionId: v1.id })).find((d) => d.id === first);
    expect(old?.stoppedAt).toBeInstanceOf(Date);
    const active = (await store.listDeployments({ active: true })).filter((d) => d.environment === 'staging');
    expect(active.map((d) => [d.id, d.modelVersionId])).toEqual([[server.deploymentId(), v2.id]]);
    expect(lines.some((l) => l.includes(`moved from tiny@1 to @${v2.version}`))).toBe(true);
    let text = await metricsOf(server.url);
    expect(metric(text, 'cairn_serve_reloads_total', { result: 'success' })).toBe(1);
    expect(metric(text, 'cairn_serve_model_version', { model: 'tiny' })).toBe(v2.version);

    // A version whose files are not in the blob store: the reload fails, v2 stays.
    const broken = await store.registerModelVersion({ name: 'tiny', artifactHash: 'e'.repeat(64) });
    await store.setModelAlias('tiny', 'staging', broken.version);
    const why = await waitFor('a failed reload in the log', () => lines.find((l) => l.includes('reload of tiny@staging failed')));
    expect(why).toContain(`tiny@${broken.version}`);
    expect(json(await send(server.url, { path: '/health' }))).toEqual({ status: 'ok', model: 'tiny', version: v2.version });
    expect((await postJson(server.url, { rows }, pool)).status).toBe(200);
    text = await metricsOf(server.url);
    expect(metric(text, 'cairn_serve_reloads_total', { result: 'failure' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'cairn_serve_reloads_total', { result: 'success' })).toBe(1);
    expect(await store.listDeployments({ modelVersionId: broken.id })).toEqual([]);
    await store.setModelAlias('tiny', 'staging', v2.version);
  });

  it('survives thousands of fuzzed bad requests with a 4xx JSON error each, then still serves', async () => {
    const LIMIT = 4096;
    const server = await start({ bodyLimitBytes: LIMIT });
    const pool = agent(8);
    const good = rowMaker(6)(2);
    let sent = 0;

    /** Sends one request and checks: a 4xx (the one given, when given) with `{ error: { code, message } }`. */
    const refused = async (req: Send, status?: number) => {
      sent++;
      const r = await send(server.url, { ...req, agent: pool });
      if (r.status < 400 || r.status > 499 || (status !== undefined && r.status !== status)) {
        throw new Error(`${req.method} ${req.path} (${String(req.body ?? '').slice(0, 120)}): got ${r.status} ${r.text.slice(0, 200)}, want ${status ?? '4xx'}`);
      }
      if (req.method === 'HEAD') return;
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = JSON.parse(r.text);
      expect(Object.keys(body)).toEqual(['error']);
      expect(typeof body.error.code).toBe('string');
      expect(body.error.code.length).toBeGreaterThan(0);
      expect(typeof body.error.message).toBe('string');
      expect(body.error.message.length).toBeGreaterThan(0);
    };
    const post = (body: string | Uint8Array, headers: Record<string, string> = JSON_HEADERS): Send => ({ method: 'POST', path: '/predict', headers, body });
    const sizeOf = (b: string | Uint8Array) => (typeof b === 'string' ? Buffer.byteLength(b) : b.length);
    /** 413 when over the limit, else the status given. */
    const expectFor = (b: string | Uint8Array, status: number) => (sizeOf(b) > LIMIT ? 413 : status);

    const badValue = fc.oneof(
      fc.string(),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.double()),
      fc.object(),
      fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '0x10', '', ' 1'),
      fc.constantFrom(1e39, -1e39, 1e308, -Number.MAX_VALUE),
    );
    const rowArb = fc.record({ a: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), b: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), c: fc.integer() });
    const rowsArb = fc.array(rowArb, { minLength: 1, maxLength: 5 });
    // Request bodies that are JSON but wrong, each wrong by construction.
    const wrongShape = fc.oneof(
      fc.record({ rows: fc.jsonValue().filter((v) => !Array.isArray(v)) }),
      fc.constant({ rows: [] }),
      fc.tuple(rowsArb, fc.string().filter((k) => k !== 'rows'), fc.jsonValue()).map(([rows, k, v]) => ({ rows, [k]: v })),
      rowsArb.map((rows) => ({ instances: rows })),
      rowsArb.map((rows) => rows),
      fc.tuple(rowsArb, fc.nat(), fc.constantFrom(...FEATURES), badValue).map(([rows, i, f, v]) => ({ rows: rows.map((r, j) => (j === i % rows.length ? { ...r, [f]: v } : r)) })),
      fc.tuple(rowsArb, fc.nat(), fc.constantFrom(...FEATURES)).map(([rows, i, f]) => ({ rows: rows.map((r, j) => (j === i % rows.length ? Object.fromEntries(Object.entries(r).filter(([k]) => k !== f)) : r)) })),
      fc.tuple(rowsArb, fc.string().filter((k) => !(FEATURES as readonly string[]).includes(k)), fc.jsonValue()).map(([rows, k, v]) => ({ rows: [...rows, { ...rows[0], [k]: v }] })),
      fc.tuple(rowsArb, fc.oneof(fc.double(), fc.string(), fc.constant(null), fc.array(fc.integer()))).map(([rows, v]) => ({ rows: [...rows, v] })),
      fc.integer({ min: 1025, max: 1300 }).map((n) => ({ rows: Array.from({ length: n }, () => ({})) })),
    );

    const properties = [
      // Random bytes as a JSON body.
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), (b) => refused(post(b), 400)),
      // Random JSON texts and values: valid JSON, never a valid request.
      fc.asyncProperty(fc.json({ maxDepth: 4 }), (t) => refused(post(t), expectFor(t, 400))),
      fc.asyncProperty(fc.anything({ maxDepth: 3 }), (v) => {
        let t: string | undefined;
        try {
          t = JSON.stringify(v);
        } catch {
          t = undefined;
        }
        return refused(post(t ?? String(v)), expectFor(t ?? String(v), 400));
      }),
      fc.asyncProperty(wrongShape, (v) => {
        const t = JSON.stringify(v);
        return refused(post(t), expectFor(t, 400));
      }),
      // Huge numbers, as JSON text JSON.stringify would never write.
      fc.asyncProperty(fc.constantFrom('1e999', '-1e999', '1e39', '-7e38', '1' + '0'.repeat(400), '-1e400'), fc.constantFrom(...FEATURES), (n, f) =>
        refused(post(`{"rows":[{${FEATURES.map((x) => `"${x}":${x === f ? n : 1}`).join(',')}}]}`), 400),
      ),
      // Deeply nested arrays, alone or where a row or a value should be.
      fc.asyncProperty(fc.integer({ min: 1, max: 2000 }), fc.constantFrom('top', 'rows', 'row', 'value'), (d, where) => {
        const nest = '['.repeat(d) + ']'.repeat(d);
        const t = where === 'top' ? nest : where === 'rows' ? `{"rows":${nest}}` : where === 'row' ? `{"rows":[${nest}]}` : `{"rows":[{"a":${nest},"b":1,"c":1}]}`;
        return refused(post(t), expectFor(t, 400));
      }),
      // Wrong content types, with a body that would otherwise be valid.
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/jsonx', 'json', 'application/xml', 'text/json', 'application/json;charset=utf-16'),
          fc.stringMatching(/^[a-z]{1,10}\/[a-z+.-]{1,12}$/).filter((t) => t !== 'application/json'),
        ),
        rowsArb,
        (type, rows) => refused(post(JSON.stringify({ rows }), { 'content-type': type }), 415),
      ),
      // Bodies over the limit, declared or chunked, JSON or not.
      fc.asyncProperty(fc.integer({ min: LIMIT + 1, max: 4 * LIMIT }), fc.boolean(), fc.boolean(), (size, chunked, asJson) => {
        const body = asJson ? `{"rows":[${'{"a":1,"b":2,"c":3},'.repeat(Math.ceil(size / 20))}{"a":1,"b":2,"c":3}]}` : new Uint8Array(size).fill(0x61);
        return refused({ ...post(body), chunked }, 413);
      }),
      // Wrong methods on each route.
      fc.asyncProperty(fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), (m) => refused({ method: m, path: '/predict', headers: JSON_HEADERS, ...(m === 'GET' || m === 'HEAD' ? {} : { body: JSON.stringify({ rows: good }) }) }, 405)),
      fc.asyncProperty(fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), fc.constantFrom('/health', '/metadata', '/metrics'), (m, p) => refused({ method: m, path: p, headers: JSON_HEADERS, body: '{}' }, 405)),
      // Unknown paths.
      fc.asyncProperty(fc.webPath(), fc.constantFrom('GET', 'POST'), (p, m) => {
        const target = p.startsWith('/') ? p : `/${p}`;
        const pathname = target.split('?')[0]!;
        fc.pre(!['/predict', '/health', '/metadata', '/metrics'].includes(pathname));
        return refused({ method: m, path: target, headers: JSON_HEADERS, body: JSON.stringify({ rows: good }) }, 404);
      }),
    ];
    const runs = [250, 250, 200, 400, 60, 200, 200, 150, 60, 60, 250];
    await Promise.all(properties.map((p, i) => fc.assert(p as fc.IAsyncProperty<unknown[]>, { numRuns: runs[i]! })));
    expect(sent).toBeGreaterThanOrEqual(2000);

    // Every one of them was counted, and none was a 5xx.
    const text = await metricsOf(server.url);
    expect(metric(text, 'cairn_serve_requests_total')).toBeGreaterThanOrEqual(sent);
    for (const line of text.split('\n')) if (line.startsWith('cairn_serve_requests_total{')) expect(line).not.toMatch(/code="5\d\d"/);

    const after = await postJson(server.url, { rows: good }, pool);
    expect(after.status).toBe(200);
    expect(json(after).predictions).toEqual(await expected(ref1, good));
    expect(json(await send(server.url, { path: '/health', agent: pool }))).toEqual({ status: 'ok', model: 'tiny', version: 1 });
  });

  it('on loopback, answers only requests addressed to this machine or an allowed name (DNS rebinding); on every interface, any Host unless names are given', async () => {
    const rows = rowMaker(9)(2);
    const predictAs = (base: string, host: string) => send(base, { method: 'POST', path: '/predict', headers: { ...JSON_HEADERS, host }, body: JSON.stringify({ rows }) });
    const metadataAs = (base: string, host: string) => send(base, { path: '/metadata', headers: { host } });

    // The default: 127.0.0.1. A page on attacker.example, its name rebound to 127.0.0.1, reads and predicts nothing.
    const local = await start();
    const port = new URL(local.url).port;
    for (const r of [await metadataAs(local.url, `attacker.example:${port}`), await predictAs(local.url, 'attacker.example')]) {
      expect(r.status).toBe(403);
      expect(json(r).error).toMatchObject({ code: 'HOST_NOT_ALLOWED', message: expect.stringMatching(/DNS rebinding.*CAIRN_ALLOWED_HOSTS=attacker\.example/) });
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `models.localhost:${port}`]) expect((await metadataAs(local.url, host)).status, host).toBe(200);
    expect(json(await predictAs(local.url, `localhost:${port}`)).predictions).toEqual(await expected(ref1, rows));

    const named = await start({ allowedHosts: ['models.internal'] });
    expect((await metadataAs(named.url, 'models.internal:8080')).status).toBe(200);
    expect((await metadataAs(named.url, 'attacker.example')).status).toBe(403);

    // Listening on every interface, it is a service other machines call by whatever name routes to it.
    const everywhere = await start({ host: '0.0.0.0' });
    expect((await metadataAs(everywhere.url, 'models.svc.cluster.local')).status).toBe(200);
    const listed = await start({ host: '0.0.0.0', allowedHosts: ['models.internal'] });
    expect((await metadataAs(listed.url, 'models.internal')).status).toBe(200);
    expect((await metadataAs(listed.url, 'attacker.example')).status).toBe(403);
  });

  it('close() ends the deployment and lets the port go; bad refs, environments and packages fail startup leaving nothing behind', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const server = await start({ environment: 'closing' });
    const port = Number(new URL(server.url).port);
    const pool = agent(2);
    expect((await send(server.url, { path: '/health', agent: pool })).status).toBe(200);
    expect((await postJson(server.url, { rows: rowMaker(7)(4) }, pool)).status).toBe(200);
    expect(tf.memory().numTensors).toBeGreaterThan(tensorsBefore);
    const id = server.deploymentId();
    expect((await store.listDeployments({ active: true })).some((d) => d.id === id)).toBe(true);
    await server.close();
    await server.close();
    // The model is disposed, and predicting left no tensor behind.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const dep = (await store.listDeployments({ modelVersionId: v1.id })).find((d) => d.id === id);
    expect(dep?.stoppedAt).toBeInstanceOf(Date);
    expect(await connects(port)).toBe(false);
    await expect(send(server.url, { path: '/health', agent: pool, timeoutMs: 3_000 })).rejects.toThrow(/ECONNREFUSED|socket hang up|ECONNRESET/);

    const before = (await store.listDeployments()).length;
    const failure = async (o: Partial<ModelServerOptions>): Promise<CairnError> => {
      const e = await startModelServer({ store, blobs, ref: 'tiny@production', cacheDir, reloadIntervalMs: 0, ...o }).then(
        (s) => {
          servers.push(s);
          return null;
        },
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(CairnError);
      return e as CairnError;
    };
    expect((await failure({ ref: 'tiny@nope' })).code).toBe('NOT_FOUND');
    expect((await failure({ ref: 'ghost@production' })).code).toBe('NOT_FOUND');
    expect((await failure({ ref: 'tiny@99' })).code).toBe('NOT_FOUND');
    expect((await failure({ ref: 'not a ref' })).code).toBe('INVALID_INPUT');
    // Fails after it listened (the store refuses the environment name): the port is let go.
    const spare = await freePort();
    expect((await failure({ port: spare, environment: 'no spaces allowed' })).code).toBe('INVALID_INPUT');
    expect(await connects(spare)).toBe(false);

    // A damaged package: the weights blob flipped on disk.
    const blobs2 = new LocalBlobStore(path.join(tmp, 'blobs-damaged'));
    const exp = await store.ensureExperiment({ name: 'broken' });
    const run = await store.createRun({ experimentId: exp.id });
    const files = await exportModel(tinyModel(1), blobs2, card());
    for (const f of files) await store.logArtifact(run.id, f);
    await store.endRun(run.id, 'finished');
    await registerRunModel({ store, blobs: blobs2, runId: run.id, name: 'broken' });
    const weights = files.find((f) => f.path === 'model/weights.bin')!;
    const file = path.join(blobs2.root, weights.hash.slice(0, 2), weights.hash.slice(2));
    fs.chmodSync(file, 0o644);
    const bytes = fs.readFileSync(file);
    bytes[0] = bytes[0]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const damaged = await failure({ ref: 'broken', blobs: blobs2, cacheDir: path.join(tmp, 'cache-damaged') });
    expect(damaged.message).toContain(weights.hash.slice(0, 12));

    expect((await store.listDeployments()).length).toBe(before);
  });
});
