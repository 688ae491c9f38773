import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { HttpTransport, removeProcessHooks, startRun } from '@cairn/tracking';
import { createApiHandler, type ApiHandlerOptions } from './handler.ts';
import type { AppRouter } from './router.ts';
import { teamViewer } from './test-support.ts';

/** A node:http server in front of the fetch-style handler, as a Next.js route handler would be. */
async function serve(handler: (req: Request) => Promise<Response>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const response = await handler(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body, signal: abort.signal }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) {
        try {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
        } catch {
          // the client went away mid-stream
        }
      }
      res.end();
    })().catch((e: unknown) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function client(url: string, headers: Record<string, string> = {}) {
  return createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/api/trpc`, transformer: superjson, headers })] });
}

async function clientError(p: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TRPCClientError);
  return e as TRPCClientError<AppRouter>;
}

describe.each(testDrivers())('the fetch handler over real HTTP on $name', (driver) => {
  let store: Store;
  let server: Awaited<ReturnType<typeof serve>>;
  let api: ReturnType<typeof client>;

  const start = async (options: Omit<ApiHandlerOptions, 'store'> = {}) => serve(createApiHandler({ store, ...options }));

  beforeAll(async () => {
    store = await driver.open();
    server = await start();
    api = client(server.url);
  });
  afterAll(async () => {
    await server?.close();
    await driver.cleanup();
  });

  it('takes a run from the tracking client through the ingest endpoint and shows it through tRPC', async () => {
    const health = await fetch(`${server.url}/api/ingest/v1/health`);
    expect(await health.json()).toEqual({ ok: true, protocol: 1 });

    const run = await startRun({ experiment: 'over-http', name: 'http-run', transport: new HttpTransport({ url: server.url }), params: { lr: 0.01, opt: 'adam' }, tags: { via: 'http' }, captureEnvironment: false });
    try {
      for (let step = 0; step < 50; step++) run.log({ loss: 1 / (step + 1), acc: step === 49 ? Number.NaN : step / 50 }, { step });
      await run.note('trained over HTTP');
      await run.finish();
    } finally {
      removeProcessHooks();
    }

    const [info, page] = await Promise.all([api.system.info.query(), api.runs.search.query({ filter: "tags.via = 'http'", withTotal: true })]);
    expect(info).toMatchObject({ mode: 'local', storeDriver: driver.name, queues: false });
    expect(page.total).toBe(1);
    const row = page.runs[0]!;
    expect(row).toMatchObject({ name: 'http-run', experimentName: 'over-http', status: 'finished', params: { lr: 0.01, opt: 'adam' }, tags: { via: 'http' } });
    expect(row.createdAt).toBeInstanceOf(Date);
    expect(row.metrics.loss).toMatchObject({ last: 1 / 50, count: 50 });
    expect(row.metrics.acc!.last).toBeNaN();
    const series = await api.runs.series.query({ runId: row.id, keys: ['loss', 'acc'], maxPoints: 10 });
    expect(series.loss!.steps.length).toBeLessThanOrEqual(10);
    expect(series.loss!.total).toBe(50);
    expect(series.acc!.values.some((v) => Number.isNaN(v))).toBe(true);
    const view = await api.runs.get.query({ id: row.id });
    expect(view.notes.map((n) => n.body)).toEqual(['trained over HTTP']);
    expect(view.notes[0]!.createdAt).toBeInstanceOf(Date);
  });

  it("answers the ingest protocol's errors as the tracking client expects them", async () => {
    const res = await fetch(`${server.url}/api/ingest/v1/runs/not-a-uuid/heartbeat`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'INVALID_INPUT', message: "invalid run id 'not-a-uuid': expected a UUID" } });
    const bad = await fetch(`${server.url}/api/ingest/v1/runs`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^request body is not valid JSON/);
    const big = await serve(createApiHandler({ store, maxIngestBytes: 100 }));
    try {
      const tooLarge = await fetch(`${big.url}/api/ingest/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment: 'x'.repeat(200) }) });
      expect(tooLarge.status).toBe(413);
      // A write must say it is JSON: a cross-site form (text/plain) cannot write through a browser.
      const form = await fetch(`${server.url}/api/ingest/v1/runs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ experiment: 'from-a-form' }) });
      expect(form.status).toBe(415);
      await expect(store.getExperiment('from-a-form')).rejects.toThrow(/not found/);
    } finally {
      await big.close();
    }
    const other = await fetch(`${server.url}/elsewhere`);
    expect(other.status).toBe(404);
  });

  it('sends errors with their tRPC code, HTTP status and the filter position', async () => {
    const filter = await clientError(api.runs.search.query({ filter: 'metrics.loss <' }));
    expect(filter.message).toMatch(/^filter syntax error at column 15: /);
    expect(filter.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, cairnCode: 'FILTER_SYNTAX', filter: { position: 15, message: expect.any(String) } });
    const missing = await clientError(api.experiments.get.query({ id: 'nope' }));
    expect([missing.message, missing.data?.code, missing.data?.httpStatus]).toEqual(["experiment 'nope' not found", 'NOT_FOUND', 404]);
    const input = await clientError(api.runs.search.query({ limit: 0 }));
    expect([input.message, input.data?.code]).toEqual(['invalid input: limit: Too small: expected number to be >=1', 'BAD_REQUEST']);
    const queues = await clientError(api.queues.cancel.mutate({ runId: '0190aaaa-0000-7000-8000-000000000000' }));
    expect([queues.data?.code, queues.data?.httpStatus, queues.message]).toEqual(['PRECONDITION_FAILED', 412, 'the training queues are not available: start Redis or set REDIS_URL']);
  });

  it('streams a subscription as server-sent events', async () => {
    const input = encodeURIComponent(JSON.stringify(superjson.serialize({ intervalMs: 200 })));
    const res = await fetch(`${server.url}/api/trpc/queues.events?input=${input}`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text(); // without queues the stream sends the counts once and ends
    const data = text
      .split('\n')
      .filter((l) => l.startsWith('data: {"json"'))
      .map((l) => JSON.parse(l.slice(6)) as unknown);
    expect(data.map((d) => superjson.deserialize(d as never))).toContainEqual({ available: false, tiers: [], reason: expect.stringMatching(/start Redis/) });
  });

  it('resolves a team viewer per request, hides unexpected error text from them, and refuses ingest without a token', async () => {
    const project = await store.ensureProject('default');
    const failing = new Proxy(store, {
      get(target, prop) {
        if (prop === 'listDatasets') return () => Promise.reject(new Error('relation "datasets" does not exist (SELECT * FROM /srv/secret)'));
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const errors: unknown[] = [];
    const team = await serve(
      createApiHandler({
        store: failing,
        viewer: (req) => teamViewer(req.headers.get('x-user') ?? 'nobody', req.headers.get('x-user') === 'ana' ? { [project.id]: 'viewer' } : {}),
        onError: (e) => errors.push(e),
      }),
    );
    try {
      const ana = client(team.url, { 'x-user': 'ana' });
      expect(await ana.system.info.query()).toMatchObject({ mode: 'team', userId: 'ana' });
      expect((await ana.runs.search.query({})).runs.map((r) => r.name)).toEqual(['http-run']);
      const stranger = client(team.url, { 'x-user': 'zed' });
      expect(await stranger.runs.search.query({})).toEqual({ runs: [], nextCursor: null });
      const internal = await clientError(ana.datasets.list.query());
      expect([internal.message, internal.data?.code]).toEqual(['internal error in the Cairn server', 'INTERNAL_SERVER_ERROR']);
      expect(JSON.stringify(internal.data)).not.toContain('/srv/secret');
      expect(String(errors[0])).toContain('/srv/secret');

      const refused = await startRun({ experiment: 'x', transport: new HttpTransport({ url: team.url }), captureEnvironment: false }).then(
        () => null,
        (e: unknown) => e,
      );
      removeProcessHooks();
      expect(refused).toBeInstanceOf(ValidationError);
      expect((refused as Error).message).toMatch(/needs a token/);
    } finally {
      await team.close();
    }
    const withToken = await serve(createApiHandler({ store, viewer: () => teamViewer('ci', {}), authorizeIngest: (req) => req.headers.get('authorization') === 'Bearer s3cret' }));
    try {
      const run = await startRun({ experiment: 'tokened', transport: new HttpTransport({ url: withToken.url, token: 's3cret' }), captureEnvironment: false });
      await run.finish();
      removeProcessHooks();
      expect((await store.getRun(run.id)).status).toBe('finished');
    } finally {
      await withToken.close();
    }
  });
});
