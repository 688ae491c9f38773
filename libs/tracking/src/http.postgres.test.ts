import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError, InvalidStateError, NotFoundError, ParamConflictError, StoreUnreachableError, ValidationError } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import {
  DirectTransport,
  HttpTransport,
  INGEST_BASE_PATH,
  createIngestHandler,
  createIngestListener,
  errorFromWire,
  errorToWire,
  startRun,
  type StartRunOptions,
  type Transport,
} from './index.ts';
import { rejection, waitFor } from './test-support.ts';

const quiet: Partial<StartRunOptions> = { heartbeatIntervalMs: 0, processHooks: false, retryBaseMs: 5, onWarning: () => {} };

async function listen(listener: http.RequestListener): Promise<{ url: string; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function post(url: string, path: string, body: unknown, raw = false): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${INGEST_BASE_PATH}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe.each(testDrivers())('HTTP transport and ingest endpoint on $name', (driver) => {
  let store: Store;
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    store = await driver.open();
    server = await listen(createIngestListener(store));
  });
  afterAll(async () => {
    await server?.close();
    await driver.cleanup();
  });

  it('round-trips a whole run through a real server', async () => {
    const run = await startRun({
      ...quiet,
      url: server.url,
      experiment: 'mnist-http',
      name: 'over-http',
      params: { lr: 0.01 },
      tags: { team: 'vision' },
      heartbeatIntervalMs: 20,
      maxBatchPoints: 50,
    });
    const r0 = await store.getRun(run.id);
    expect(r0.status).toBe('running');
    expect(r0.environment.node).toBe(process.version);
    const hb0 = r0.heartbeatAt!.getTime();
    for (let step = 0; step < 120; step++) run.log({ loss: 1 / (step + 1), acc: step / 120 }, { step });
    run.log({ weird: Number.NaN }, { step: 0 });
    run.log({ weird: Number.POSITIVE_INFINITY }, { step: 1 });
    run.log({ weird: Number.NEGATIVE_INFINITY }, { step: 2 });
    await run.logParams({ epochs: 3 });
    await run.setTags({ stage: 'dev' });
    await run.note('tried cosine decay; diverged after epoch 3');
    const hash = createHash('sha256').update('model').digest('hex');
    await run.logArtifact({ path: 'model/model.json', hash, size: 10, mediaType: 'application/json' });
    await waitFor(async () => (await store.getRun(run.id)).heartbeatAt!.getTime() > hb0, 'a heartbeat over HTTP');
    await run.finish();

    const r = await store.getRun(run.id);
    expect(r.status).toBe('finished');
    expect(r.params).toEqual({ lr: '0.01', epochs: '3' });
    expect(r.tags).toEqual({ team: 'vision', stage: 'dev' });
    expect(r.metrics.loss!.count).toBe(120);
    expect(r.metrics.acc!.count).toBe(120);
    const weird = await store.getMetricSeries(run.id, 'weird');
    expect(weird.points.map((p) => p.value)).toEqual([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect((await store.listNotes({ kind: 'run', id: run.id }))[0]!.body).toBe('tried cosine decay; diverged after epoch 3');
    expect((await store.listArtifacts(run.id))[0]!.hash).toBe(hash);
  });

  it('throws the same typed errors as the direct transport', async () => {
    const direct = new DirectTransport(store);
    const viaHttp = new HttpTransport({ url: server.url });
    const exp = await store.ensureExperiment({ name: 'errors' });
    const run = await store.createRun({ experimentId: exp.id, params: { lr: '0.01' } });
    const missing = '01900000-0000-7000-8000-000000000000';

    const cases: [string, (t: Transport) => Promise<unknown>, new (...a: never[]) => Error][] = [
      ['param conflict', (t) => t.logParams(run.id, { lr: 0.5 }), ParamConflictError],
      ['unknown run', (t) => t.heartbeat(missing), NotFoundError],
      ['bad key', (t) => t.setTags(run.id, { ' x': 'y' }), ValidationError],
      ['bad experiment', (t) => t.createRun({ experiment: 'bad\u0001name' }), ValidationError],
      ['metrics for an unknown run', (t) => t.logMetrics(missing, { batchId: 'b', points: [{ key: 'x', value: 1, step: 0, wallMs: 1 }] }), NotFoundError],
    ];
    for (const [what, call, cls] of cases) {
      const a = await rejection(call(direct));
      const b = await rejection(call(viaHttp));
      expect(a, what).toBeInstanceOf(cls);
      expect(b, what).toBeInstanceOf(cls);
      expect([b.name, (b as CairnError).code], what).toEqual([a.name, (a as CairnError).code]);
      expect(b.message, what).toBe(a.message);
    }
    // Ending twice, differently: the second is an InvalidStateError either way.
    await direct.endRun(run.id, 'finished');
    const a = await rejection(direct.endRun(run.id, 'failed'));
    const b = await rejection(viaHttp.endRun(run.id, 'failed'));
    expect(a).toBeInstanceOf(InvalidStateError);
    expect(b).toBeInstanceOf(InvalidStateError);
    expect(b.message).toBe(a.message);
    // The typed fields survive the trip too.
    const conflict = (await rejection(viaHttp.logParams(run.id, { lr: 0.5 }))) as ParamConflictError;
    expect([conflict.key, conflict.existing, conflict.attempted]).toEqual(['lr', '0.01', '0.5']);
  });

  it('answers malformed requests with 400 and a Cairn error body', async () => {
    expect((await fetch(`${server.url}${INGEST_BASE_PATH}/health`)).status).toBe(200);
    let r = await post(server.url, '/runs', { name: 'no experiment' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('INVALID_INPUT');
    r = await post(server.url, '/runs', '{"experiment": ', true);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/not valid JSON/);
    r = await post(server.url, '/runs/not-a-uuid/heartbeat', {});
    expect(r.status).toBe(400);
    r = await post(server.url, '/runs/01900000-0000-7000-8000-000000000000/metrics', { batchId: 'x', points: [{ key: 'a', value: 'NaNa', step: 0, wallMs: 0 }] });
    expect(r.status).toBe(400);
    r = await post(server.url, '/nope', {});
    expect(r.status).toBe(404);
    const res = await fetch(`${server.url}/elsewhere`);
    expect(res.status).toBe(404);
  });

  it('accepts a re-sent metrics batch without duplicating points', async () => {
    const created = await post(server.url, '/runs', { experiment: 'idempotent' });
    expect(created.status).toBe(201);
    const id = created.body.run.id as string;
    const batch = {
      batchId: 'batch-1',
      points: [
        { key: 'loss', value: 0.5, step: 0, wallMs: 1_700_000_000_000 },
        { key: 'loss', value: 'NaN', step: 1, wallMs: 1_700_000_000_001 },
        { key: 'loss', value: '-Infinity', step: 2, wallMs: 1_700_000_000_002 },
      ],
    };
    expect((await post(server.url, `/runs/${id}/metrics`, batch)).body).toEqual({ batchId: 'batch-1', inserted: 3 });
    expect((await post(server.url, `/runs/${id}/metrics`, batch)).body).toEqual({ batchId: 'batch-1', inserted: 0 });
    expect((await store.getMetricSummaries(id)).loss!.count).toBe(3);
  });

  it('retries through a server that is briefly unavailable', async () => {
    // A proxy in front of the real endpoint that answers 503 to the first two metrics requests.
    const handler = createIngestListener(store);
    let refused = 0;
    const flaky = await listen((req, res) => {
      if (req.url?.endsWith('/metrics') && refused < 2) {
        refused++;
        req.resume();
        const { status, body } = errorToWire(new StoreUnreachableError('the store is restarting'));
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      handler(req, res);
    });
    try {
      const run = await startRun({ ...quiet, url: flaky.url, experiment: 'flaky', flushIntervalMs: 0 });
      for (let i = 0; i < 10; i++) run.log({ loss: i });
      await run.finish();
      expect(refused).toBe(2);
      expect((await store.getMetricSummaries(run.id)).loss!.count).toBe(10);
      expect((await store.getRun(run.id)).status).toBe('finished');
    } finally {
      await flaky.close();
    }
  });

  it('reports an unreachable server as StoreUnreachableError', async () => {
    const gone = await listen(() => {});
    const url = gone.url;
    await gone.close();
    const e = await rejection(startRun({ ...quiet, url, experiment: 'nowhere' }));
    expect(e).toBeInstanceOf(StoreUnreachableError);
    expect(e.message).toMatch(/cannot reach the Cairn server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('exposes the handler as a plain function', async () => {
    const handle = createIngestHandler(store);
    const created = await handle('POST', '/runs', { experiment: 'plain', status: 'queued' });
    expect(created.status).toBe(201);
    const id = (created.body as { run: { id: string } }).run.id;
    const started = await handle('POST', `/runs/${id}/start`, { environment: { node: 'v0' } });
    expect((started.body as { run: { status: string } }).run.status).toBe('running');
    expect((await handle('GET', '/runs', undefined)).status).toBe(405);
    // The path is relative to the mount point, matched once: a prefix is not stripped.
    expect((await handle('POST', `${INGEST_BASE_PATH}/runs/${id}/tags`, { tags: { a: 'b' } })).status).toBe(404);
    expect((await store.getRun(id)).tags).toEqual({});
    expect((await store.getRun(id)).environment).toEqual({ node: 'v0' });
  });
});

describe('error mapping', () => {
  it('maps every code to its HTTP status and back', () => {
    const errors = [
      new ValidationError('bad'),
      new NotFoundError('run', 'abc'),
      new ParamConflictError('r', 'lr', '1', '2'),
      new InvalidStateError('ended'),
      new StoreUnreachableError('down'),
    ];
    const statuses = errors.map((e) => errorToWire(e).status);
    expect(statuses).toEqual([400, 404, 409, 409, 503]);
    for (const e of errors) {
      const { status, body } = errorToWire(e);
      const back = errorFromWire(status, body, 'http://x');
      expect(back.constructor).toBe(e.constructor);
      expect(back.message).toBe(e.message);
    }
    expect(errorToWire(new Error('boom')).status).toBe(500);
    expect(errorFromWire(502, undefined, 'http://x')).toBeInstanceOf(StoreUnreachableError);
  });
});
