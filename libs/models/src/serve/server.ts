import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import type { PackagedModel, Prediction, ValidatedInput } from '@cairn/engine';
import { HttpError, checkJsonContentType, discardRest, parseJsonBody, readNodeBody } from '@cairn/http';
import { CairnError, ValidationError, bindHostEntry, hostAllowed, hostNotAllowedMessage, isLoopbackAddress, parseAllowedHosts } from '@cairn/schema';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { Deployment, ModelVersion, Store } from '@cairn/store';
import { loadModelVersion, resolveRef } from '../package.ts';
import { parseModelRef } from '../ref.ts';
import { Batcher } from './batcher.ts';
import { ServeMetrics, routeLabel } from './metrics.ts';

export interface ModelServerOptions {
  store: Store;
  blobs: LocalBlobStore;
  /** What to serve: `name@alias`, `name@3`, `name@latest` or `name`. */
  ref: string;
  /** Where versions are packaged (once each, by artifact hash) before loading. */
  cacheDir: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Host names answered besides localhost, *.localhost and IP addresses (`name`,
   * `.domain`, `*`; CAIRN_ALLOWED_HOSTS in `cairn serve`); any other Host is refused 403,
   * against DNS rebinding: the server has no accounts. Absent: checked with no extra names
   * when it listens on loopback (the default), where every real client is on this machine;
   * not checked on other interfaces, where other machines call it by whatever name routes
   * to it (a service name, a load balancer's).
   */
  allowedHosts?: readonly string[];
  /** The deployment's environment name; default the alias the ref names, else `default`. */
  environment?: string;
  /** Micro-batching of concurrent /predict requests; `false`: one model call per request. */
  batching?: { maxBatchRows?: number; maxDelayMs?: number } | false;
  /** How often to resolve the ref again and reload when it names another version; 0 = never. Default 5000. */
  reloadIntervalMs?: number;
  /** Largest request body; default 1 MiB. */
  bodyLimitBytes?: number;
  /** The project the model is in; default the default project. */
  project?: string;
  log?: (line: string) => void;
  /**
   * Builds the HTTP server that hands each request to `handle` (the routing, validation
   * and answers below). Default: `node:http`, hand-routed. The serve bench passes one that
   * puts fastify in front of the same handler, to measure the two against each other.
   */
  serverFactory?: (handle: (req: IncomingMessage, res: ServerResponse) => void) => http.Server | Promise<http.Server>;
}

export interface ModelServer {
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  /** The version being served now. */
  version(): ModelVersion;
  /** The store's deployment record for the version being served now. */
  deploymentId(): string;
  /** Ends the deployment, stops reloading, closes the HTTP server and its connections, disposes the model. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BATCH_ROWS = 256;
export const DEFAULT_MAX_DELAY_MS = 2;
export const DEFAULT_RELOAD_INTERVAL_MS = 5000;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** After an early refusal, what the server still reads (and drops) so the client can read the answer. */
const DISCARD_CAP = 1024 * 1024;
const DISCARD_MS = 5000;
/** How long close() lets requests in flight finish before cutting their connections. */
const DRAIN_MS = 10_000;
const JSON_TYPE = 'application/json; charset=utf-8';

/** A loaded version and what serves it; retired once replaced, disposed once its last request is done. */
interface Loaded {
  version: ModelVersion;
  model: PackagedModel;
  deployment: Deployment;
  loadedAt: Date;
  batcher: Batcher | null;
  active: number;
  retired: boolean;
}

interface Settings {
  port: number;
  host: string;
  batching: { maxBatchRows: number; maxDelayMs: number } | false;
  reloadIntervalMs: number;
  bodyLimitBytes: number;
  /** null: any Host. */
  allowedHosts: string[] | null;
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new ValidationError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  return value;
}

function settingsOf(o: ModelServerOptions): Settings {
  const host = o.host ?? '127.0.0.1';
  return {
    port: intOption('port', o.port, 0, 0, 65535),
    host,
    allowedHosts:
      o.allowedHosts !== undefined ? [...parseAllowedHosts(o.allowedHosts.join(','), 'allowedHosts'), ...bindHostEntry(host)] : isLoopbackAddress(host) ? bindHostEntry(host) : null,
    batching:
      o.batching === false
        ? false
        : {
            maxBatchRows: intOption('batching.maxBatchRows', o.batching?.maxBatchRows, DEFAULT_MAX_BATCH_ROWS, 1),
            maxDelayMs: intOption('batching.maxDelayMs', o.batching?.maxDelayMs, DEFAULT_MAX_DELAY_MS, 0, 60_000),
          },
    reloadIntervalMs: intOption('reloadIntervalMs', o.reloadIntervalMs, DEFAULT_RELOAD_INTERVAL_MS, 0, 2 ** 31 - 1),
    bodyLimitBytes: intOption('bodyLimitBytes', o.bodyLimitBytes, DEFAULT_BODY_LIMIT, 1),
  };
}

/** The alias a reference names, or null for a version number or `latest`. */
function aliasOf(ref: string): string | null {
  return /^\d+$/.test(ref) || ref === 'latest' ? null : ref;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Serves a registered model over HTTP: POST /predict, GET /health, /metadata, /metrics.
 * Resolves the ref, loads the version (packaged once into cacheDir), records a deployment
 * and listens; startup failures reject with the registry's typed error and leave nothing
 * running. Concurrent predictions are micro-batched, and the ref is polled so moving an
 * alias swaps the model without dropping a request.
 */
export async function startModelServer(o: ModelServerOptions): Promise<ModelServer> {
  const settings = settingsOf(o);
  const log = o.log ?? (() => {});
  const parsed = parseModelRef(o.ref);
  const alias = aliasOf(parsed.ref);
  const environment = o.environment ?? alias ?? 'default';
  const hostname = os.hostname();
  const metrics = new ServeMetrics();

  let current: Loaded;
  let closing = false;
  let inflight = 0;
  let drained: (() => void) | null = null;

  const makeLoaded = (version: ModelVersion, model: PackagedModel, deployment: Deployment): Loaded => {
    const l: Loaded = { version, model, deployment, loadedAt: new Date(), batcher: null, active: 0, retired: false };
    if (settings.batching) {
      l.batcher = new Batcher({
        maxRows: settings.batching.maxBatchRows,
        maxDelayMs: settings.batching.maxDelayMs,
        run: (inputs) => model.predictBatch(inputs),
        onBatch: (rows, requests) => metrics.batch(rows, requests),
      });
    }
    return l;
  };
  const release = (l: Loaded) => {
    l.active--;
    if (l.retired && l.active === 0) l.model.dispose();
  };
  const retire = (l: Loaded) => {
    l.retired = true;
    if (l.active === 0) l.model.dispose();
  };
  const predictWith = async (l: Loaded, input: ValidatedInput): Promise<Prediction[]> => {
    if (l.batcher) return l.batcher.submit(input);
    const [out] = await l.model.predictBatch([input]);
    metrics.batch(input.rows, 1);
    return out!;
  };

  // ---- startup: resolve, load, listen, record; undo what was done when a step fails.
  const version = await resolveRef(o.store, o.ref, o.project);
  const model = await loadModelVersion({ blobs: o.blobs, version, cacheDir: o.cacheDir });
  const server = o.serverFactory ? await o.serverFactory((req, res) => handle(req, res)) : http.createServer({ keepAlive: true });
  let deployment: Deployment;
  try {
    await listen(server, settings.port, settings.host);
    deployment = await o.store.recordDeployment({ modelVersionId: version.id, environment, host: hostname });
  } catch (e) {
    model.dispose();
    await closeServer(server);
    throw e;
  }
  current = makeLoaded(version, model, deployment);
  metrics.serving(version.modelName, version.version);

  // ---- HTTP
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number => {
    if (res.headersSent || res.destroyed) return status;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store', ...headers });
    res.end(text);
    return status;
  };
  const sendError = (req: IncomingMessage, res: ServerResponse, e: unknown): number => {
    let status: number;
    let code: string;
    let text: string;
    let headers: Record<string, string> = {};
    if (e instanceof HttpError) {
      ({ status, code, headers } = e);
      text = e.message;
    } else if (e instanceof ValidationError) {
      status = 400;
      code = e.code;
      text = e.message;
    } else {
      status = 500;
      code = 'INTERNAL';
      text = `internal error: ${message(e)}`;
      log(`model server: ${req.method} ${req.url}: ${e instanceof Error && e.stack ? e.stack : message(e)}`);
    }
    // A body the server will not read: drop a bounded amount of it, or close when it declares more.
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!req.complete && declared > DISCARD_CAP) headers = { ...headers, connection: 'close' };
    const sent = send(res, status, { error: { code, message: text } }, headers);
    if (!req.complete && headers.connection !== 'close') discardRest(req, DISCARD_CAP, DISCARD_MS);
    return sent;
  };

  const tooLarge = () => new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is over the limit of ${settings.bodyLimitBytes} bytes`);

  const predict = async (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<number> => {
    checkJsonContentType(req.headers['content-type']);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > settings.bodyLimitBytes) throw tooLarge();
    if (expectContinue) res.writeContinue();
    const body = parseJsonBody(await readNodeBody(req, settings.bodyLimitBytes, tooLarge));
    // Taken after the body is in, so a slow upload does not hold a replaced model.
    const l = current;
    l.active++;
    try {
      let input: ValidatedInput;
      try {
        input = l.model.validate(body);
      } catch (e) {
        if (e instanceof CairnError && e.code === 'INVALID_INPUT') throw new HttpError(400, 'INVALID_INPUT', e.message);
        throw e;
      }
      const predictions = await predictWith(l, input);
      return send(res, 200, { model: l.version.modelName, version: l.version.version, predictions });
    } finally {
      release(l);
    }
  };

  const metadata = () => {
    const l = current;
    const { card } = l.model;
    return {
      model: l.version.modelName,
      version: l.version.version,
      versionId: l.version.id,
      ref: o.ref,
      alias,
      environment,
      artifactHash: l.version.artifactHash,
      runId: l.version.runId,
      description: l.version.description,
      tags: l.version.tags,
      registeredAt: l.version.createdAt,
      input: l.model.schema,
      card: { name: card.name, metrics: card.metrics, objective: card.objective, createdAt: card.createdAt, backend: card.backend, ...(card.tier ? { tier: card.tier } : {}), ...(card.snapshotId ? { snapshotId: card.snapshotId } : {}) },
      deploymentId: l.deployment.id,
      host: hostname,
      loadedAt: l.loadedAt.toISOString(),
      batching: settings.batching,
      reloadIntervalMs: settings.reloadIntervalMs,
    };
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, path: string, expectContinue: boolean): Promise<number> => {
    if (closing) throw new HttpError(503, 'SHUTTING_DOWN', 'the server is shutting down', { connection: 'close' });
    if (settings.allowedHosts && !hostAllowed(req.headers.host, settings.allowedHosts)) throw new HttpError(403, 'HOST_NOT_ALLOWED', hostNotAllowedMessage(req.headers.host));
    const method = req.method ?? '';
    if (path === '/predict') {
      if (method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on /predict; use POST`, { allow: 'POST' });
      return predict(req, res, expectContinue);
    }
    if (path === '/health' || path === '/metadata' || path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use GET`, { allow: 'GET, HEAD' });
      if (path === '/health') return send(res, 200, { status: 'ok', model: current.version.modelName, version: current.version.version });
      if (path === '/metadata') return send(res, 200, metadata());
      const text = await metrics.text();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store' });
      res.end(text);
      return 200;
    }
    throw new HttpError(404, 'NOT_FOUND', `no route ${path.slice(0, 200)}; the routes are POST /predict, GET /health, GET /metadata, GET /metrics`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, expectContinue = false) => {
    const started = performance.now();
    const path = (req.url ?? '/').split('?')[0]!;
    inflight++;
    res.on('error', () => {});
    req.on('error', () => {});
    dispatch(req, res, path, expectContinue)
      .catch((e: unknown) => sendError(req, res, e))
      .catch((e: unknown) => {
        // Answering itself failed (a socket gone mid-write): nothing left to tell the client.
        log(`model server: could not answer ${req.method} ${path.slice(0, 200)}: ${message(e)}`);
        res.destroy();
        return 500;
      })
      .then((status) => {
        metrics.request(routeLabel(path), status, (performance.now() - started) / 1000);
        if (--inflight === 0 && drained) drained();
      });
  };
  if (!o.serverFactory) server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(req, res));
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(req, res, true));
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const status = send(res, 417, { error: { code: 'EXPECTATION_FAILED', message: `expect: ${String(req.headers.expect).slice(0, 100)} is not supported` } }, { connection: 'close' });
    metrics.request(routeLabel((req.url ?? '/').split('?')[0]!), status, 0);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A request the HTTP parser refused (bad request line, headers too large): a JSON 400, then close.
    const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || (pending && pending.headersSent)) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ error: { code: status === 431 ? 'HEADERS_TOO_LARGE' : status === 408 ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST', message: `the request could not be parsed (${err.code ?? err.message})` } });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    metrics.request('other', status, 0);
  });

  // ---- hot reload
  let timer: NodeJS.Timeout | null = null;
  let reloading: Promise<void> | null = null;
  let lastFailure = '';
  const fail = (why: string) => {
    metrics.reloads.inc({ result: 'failure' });
    if (why !== lastFailure) log(`model server: reload of ${o.ref} failed, still serving ${current.version.modelName}@${current.version.version}: ${why}`);
    lastFailure = why;
  };
  const reload = async (): Promise<void> => {
    let next: ModelVersion;
    try {
      next = await resolveRef(o.store, o.ref, o.project);
    } catch (e) {
      return fail(`could not resolve ${o.ref}: ${message(e)}`);
    }
    if (closing) return;
    if (next.id === current.version.id) {
      lastFailure = '';
      return;
    }
    let loaded: PackagedModel;
    try {
      loaded = await loadModelVersion({ blobs: o.blobs, version: next, cacheDir: o.cacheDir });
    } catch (e) {
      return fail(`could not load ${next.modelName}@${next.version}: ${message(e)}`);
    }
    if (closing) return loaded.dispose();
    let dep: Deployment;
    try {
      dep = await o.store.recordDeployment({ modelVersionId: next.id, environment, host: hostname });
    } catch (e) {
      loaded.dispose();
      return fail(`could not record the deployment of ${next.modelName}@${next.version}: ${message(e)}`);
    }
    // The swap: requests from here on use the new version; those holding the old finish on it.
    const old = current;
    current = makeLoaded(next, loaded, dep);
    metrics.serving(next.modelName, next.version);
    metrics.reloads.inc({ result: 'success' });
    lastFailure = '';
    retire(old);
    log(`model server: ${o.ref} moved from ${old.version.modelName}@${old.version.version} to @${next.version}; serving it (deployment ${dep.id})`);
    try {
      await o.store.endDeployment(old.deployment.id);
    } catch (e) {
      log(`model server: could not end deployment ${old.deployment.id} of ${old.version.modelName}@${old.version.version}: ${message(e)}`);
    }
  };
  const schedule = () => {
    if (closing || settings.reloadIntervalMs === 0) return;
    timer = setTimeout(() => {
      timer = null;
      reloading = reload()
        .catch((e: unknown) => fail(message(e)))
        .finally(() => {
          reloading = null;
          schedule();
        });
    }, settings.reloadIntervalMs);
    timer.unref();
  };
  schedule();

  const address = server.address() as AddressInfo;
  const shownHost = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  const url = `http://${shownHost}:${address.port}`;
  log(`model server: serving ${version.modelName}@${version.version} (${o.ref}) at ${url}, deployment ${deployment.id} in ${environment}`);

  let closed: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    closing = true;
    if (timer) clearTimeout(timer);
    timer = null;
    if (reloading) await reloading;
    const serverClosed = closeServer(server, false);
    server.closeIdleConnections();
    if (inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, DRAIN_MS);
        t.unref();
        drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    server.closeAllConnections();
    await serverClosed;
    const l = current;
    try {
      await o.store.endDeployment(l.deployment.id);
    } finally {
      retire(l);
      log(`model server: stopped serving ${l.version.modelName}@${l.version.version}; deployment ${l.deployment.id} ended`);
    }
  };

  return {
    url,
    version: () => current.version,
    deploymentId: () => current.deployment.id,
    close: () => (closed ??= close()),
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops accepting; resolves once every connection is gone (`cut`: cut them now). */
function closeServer(server: http.Server, cut = true): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    if (cut) server.closeAllConnections();
  });
}
