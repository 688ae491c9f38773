import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Routes as the metrics label them; anything else is `other`, so paths cannot blow up the label set. */
export const ROUTES = ['/predict', '/health', '/metadata', '/metrics'] as const;
export type RouteLabel = (typeof ROUTES)[number] | 'other';

export function routeLabel(path: string): RouteLabel {
  return (ROUTES as readonly string[]).includes(path) ? (path as RouteLabel) : 'other';
}

/**
 * A model server's Prometheus metrics, in a registry of its own (several servers in one
 * process never share counters):
 * - cairn_serve_requests_total{route,code}: answered requests;
 * - cairn_serve_request_duration_seconds{route}: time from request to answer;
 * - cairn_serve_predicted_rows_total: rows (or instances) predicted;
 * - cairn_serve_model_calls_total: model calls (one per micro-batch);
 * - cairn_serve_batch_rows, cairn_serve_batch_requests: rows and requests per model call;
 * - cairn_serve_model_version{model}: the version being served;
 * - cairn_serve_reloads_total{result}: hot reloads, `success` or `failure`.
 */
export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'code'>;
  readonly duration: Histogram<'route'>;
  readonly predictedRows: Counter;
  readonly modelCalls: Counter;
  readonly batchRows: Histogram;
  readonly batchRequests: Histogram;
  readonly modelVersion: Gauge<'model'>;
  readonly reloads: Counter<'result'>;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'cairn_serve_requests_total', help: 'Requests answered, by route and status code', labelNames: ['route', 'code'], registers });
    this.duration = new Histogram({
      name: 'cairn_serve_request_duration_seconds',
      help: 'Time from a request to its answer, by route',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.predictedRows = new Counter({ name: 'cairn_serve_predicted_rows_total', help: 'Rows (or instances) predicted', registers });
    this.modelCalls = new Counter({ name: 'cairn_serve_model_calls_total', help: 'Model calls (one per micro-batch)', registers });
    this.batchRows = new Histogram({ name: 'cairn_serve_batch_rows', help: 'Rows per model call', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096], registers });
    this.batchRequests = new Histogram({ name: 'cairn_serve_batch_requests', help: 'Requests per model call', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.modelVersion = new Gauge({ name: 'cairn_serve_model_version', help: 'The model version being served', labelNames: ['model'], registers });
    this.reloads = new Counter({ name: 'cairn_serve_reloads_total', help: 'Hot reloads of the model, by result', labelNames: ['result'], registers });
    this.reloads.inc({ result: 'success' }, 0);
    this.reloads.inc({ result: 'failure' }, 0);
  }

  request(route: RouteLabel, code: number, seconds: number): void {
    this.requests.inc({ route, code: String(code) });
    this.duration.observe({ route }, seconds);
  }

  batch(rows: number, requests: number): void {
    this.modelCalls.inc();
    this.batchRows.observe(rows);
    this.batchRequests.observe(requests);
    this.predictedRows.inc(rows);
  }

  serving(model: string, version: number): void {
    this.modelVersion.reset();
    this.modelVersion.set({ model }, version);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
