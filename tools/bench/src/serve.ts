import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import Fastify from 'fastify';
import { loadDefinition, loadPackagedModel, quietTfjs, runTraining, type TableInputSchema } from '@cairn/engine';
import { packageModel, registerRunModel, startModelServer, type ModelServerOptions } from '@cairn/models';
import { LocalBlobStore } from '@cairn/snapshot';
import { openStore } from '@cairn/store';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import type { ResultRow } from './report.ts';
import { formatInt, formatMs } from './stats.ts';

/**
 * serve: `cairn serve`'s HTTP path against a minimal Node http server that calls
 * model.predict directly, in the same process and the same run, on the Iris MLP example
 * (trained briefly here, registered and packaged as a user would). The load comes from
 * autocannon in a separate process on loopback: the same connections, duration and body
 * for every server, one at a time. Each Cairn configuration runs twice: on its hand-routed
 * `node:http` listener and with fastify routing to the same handler, so the README can say
 * which routing layer is faster.
 */
export const SERVE_TARGETS = { overheadRatio: 1.2 } as const;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const IRIS = path.join(ROOT, 'examples/iris-mlp');
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const ROW = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

interface Load {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  non2xx: number;
}

/** autocannon in its own process, JSON out. */
function autocannon(url: string, body: string, connections: number, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const args = [AUTOCANNON, '--json', '-c', String(connections), '-d', String(seconds), '-m', 'POST', '-H', 'content-type=application/json', '-b', body, url];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err.slice(-500)}`));
      try {
        const r = JSON.parse(out) as { latency: { p50: number; p99: number }; requests: { average: number }; errors: number; non2xx: number };
        resolve({ p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, errors: r.errors, non2xx: r.non2xx });
      } catch (e) {
        reject(new Error(`autocannon printed no JSON: ${(e as Error).message}: ${out.slice(0, 300)}`));
      }
    });
  });
}

/**
 * The model server's own handler behind fastify's router instead of its hand-routed
 * `node:http` listener: fastify matches the route and runs its hooks, then hands the raw
 * request over (its body unread: no content-type parser consumes it), so the validation,
 * limits and answers are the same code and only the routing layer differs.
 */
const fastifyFactory: NonNullable<ModelServerOptions['serverFactory']> = async (handle) => {
  let server: http.Server | undefined;
  const app = Fastify({
    serverFactory: (handler) => (server = http.createServer({ keepAlive: true }, handler)),
    bodyLimit: 1024 * 1024,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  const toCairn = (request: { raw: http.IncomingMessage }, reply: { hijack(): void; raw: http.ServerResponse }) => {
    reply.hijack();
    handle(request.raw, reply.raw);
  };
  app.post('/predict', toCairn);
  for (const url of ['/health', '/metadata', '/metrics']) app.get(url, toCairn);
  app.setNotFoundHandler(toCairn);
  await app.ready();
  return server!;
};

/** The baseline: parse the JSON, normalise as training did, model.predict, answer. No validation, no metrics. */
function minimalServer(model: { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] }, schema: TableInputSchema): Promise<{ url: string; close(): Promise<void> }> {
  const { features, normalization: n } = schema;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rows = (JSON.parse(Buffer.concat(chunks).toString()) as { rows: Record<string, number>[] }).rows;
      const values = new Float32Array(rows.length * features.length);
      rows.forEach((r, i) => features.forEach((f, j) => (values[i * features.length + j] = (r[f]! - n.offset[j]!) / n.scale[j]!)));
      const probs = tf.tidy(() => (model.predict(tf.tensor2d(values, [rows.length, features.length])) as tf.Tensor).arraySync() as number[][]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ predictions: probs }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}/predict`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

export async function serveBench(ctx: BenchContext): Promise<BenchResult> {
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-bench-serve-'));
  quietTfjs();
  const store = await openStore({ home });
  try {
    const blobs = new LocalBlobStore(path.join(home, 'blobs'));
    progress('serve: training the Iris MLP briefly and registering it');
    const { definition } = await loadDefinition(path.join(IRIS, 'train.ts'));
    const exp = await store.ensureExperiment({ name: 'bench-serve' });
    const run = await store.createRun({ experimentId: exp.id });
    const outcome = await runTraining({
      definition,
      params: { epochs: 5 },
      dataDir: path.join(IRIS, 'data'),
      store: blobs,
      reporter: { metrics: () => undefined, artifact: async (a) => void (await store.logArtifact(run.id, a)) },
    });
    await store.endRun(run.id, outcome.result.status === 'finished' ? 'finished' : 'failed');
    await registerRunModel({ store, blobs, runId: run.id, name: 'iris-mlp' });
    await store.setModelAlias('iris-mlp', 'production', 1);
    const pkg = path.join(home, 'package');
    await packageModel({ store, blobs, ref: 'iris-mlp@production', outDir: pkg });
    const baselineModel = await loadPackagedModel(pkg);

    const connections = 32;
    const seconds = ctx.quick ? 3 : 10;
    const body = JSON.stringify({ rows: [ROW] });
    const measure = async (label: string, url: string): Promise<Load> => {
      progress(`serve: ${label}, ${connections} connections, ${seconds} s (+1 s warm-up)`);
      await autocannon(url, body, connections, 1);
      const load = await autocannon(url, body, connections, seconds);
      if (load.errors || load.non2xx) notes.push(`${label}: ${load.errors} errors, ${load.non2xx} non-2xx responses under load`);
      return load;
    };

    // Baseline before and after the Cairn servers (A B C A): the machine drifts, so the
    // baseline is the better of its two runs and both are printed.
    const minimal = async (): Promise<Load> => {
      const base = await minimalServer(baselineModel.model, baselineModel.schema as TableInputSchema);
      try {
        return await measure('minimal http server → model.predict', base.url);
      } finally {
        await base.close();
      }
    };
    const before = await minimal();
    const results: [string, Load][] = [];
    // Each configuration on the hand-routed node:http listener, then the same on fastify.
    for (const routing of ['node:http', 'fastify'] as const) {
      for (const batching of [false, true]) {
        const server = await startModelServer({
          store, blobs, ref: 'iris-mlp@production', cacheDir: path.join(home, 'models'), port: 0, reloadIntervalMs: 0, batching: batching ? {} : false,
          ...(routing === 'fastify' ? { serverFactory: fastifyFactory } : {}),
        });
        const on = routing === 'fastify' ? ' on fastify' : '';
        try {
          results.push([`${batching ? 'cairn serve (micro-batching)' : 'cairn serve --no-batching'}${on}`, await measure(`cairn serve${on}, ${batching ? 'micro-batching' : 'no batching'}`, `${server.url}/predict`)]);
        } finally {
          await server.close();
        }
      }
    }
    const after = await minimal();
    baselineModel.dispose();
    const baseline = before.rps >= after.rps ? before : after;
    notes.push(`minimal server before / after the Cairn servers: p50 ${formatMs(before.p50)} / ${formatMs(after.p50)}, ${formatInt(before.rps)} / ${formatInt(after.rps)} req/s`);

    const row = (label: string, l: Load, isBaseline: boolean): ResultRow[] => [
      {
        bench: 'serve', engine: 'http', case: `${label}: POST /predict (1 Iris row), p50 latency, ${connections} connections`, value: l.p50, unit: 'ms',
        stat: `p50 over ${seconds} s`, extra: `p99 ${formatMs(l.p99)}; ${formatInt(l.rps)} req/s`,
        ...(isBaseline ? { baseline: true } : { target: { op: '<=', value: SERVE_TARGETS.overheadRatio * baseline.p50 }, ratios: [{ vs: 'minimal server p50', value: l.p50 / baseline.p50 }, { vs: 'minimal req/s', value: l.rps / baseline.rps }] }),
      },
    ];
    rows.push(...row('minimal http server → model.predict', baseline, true));
    for (const [label, l] of results) rows.push(...row(label, l, false));
    notes.push(`load: autocannon ${connections} connections in a separate process on loopback; servers measured one at a time in this process; target: p50 ≤ ${SERVE_TARGETS.overheadRatio}× the minimal server's`);
  } finally {
    await store.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
  return { rows, notes };
}
