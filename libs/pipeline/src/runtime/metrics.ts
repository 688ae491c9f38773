import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Tier } from '@cairn/engine';
import type { TierQueues } from '../queues.ts';

/** How a job left this worker, as the jobs counter labels it. */
export type JobOutcome = 'finished' | 'abandoned' | 'cancelled' | 'skipped' | 'failed' | 'retrying' | 'handed_back' | 'taken_over' | 'lock_lost';

/** Queue states the worker exports per tier (BullMQ's getJobCounts). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

/**
 * The worker's Prometheus metrics, in a registry of its own:
 * - cairn_worker_jobs_total{tier,status}: jobs this worker ended, by how they ended;
 * - cairn_worker_job_duration_seconds{tier,status}: how long each took, start to end;
 * - cairn_worker_jobs_running{tier}: jobs running now;
 * - cairn_worker_examples_per_second{tier}: training throughput of the tier's last run
 *   (the run's last `examples_per_sec` metric);
 * - cairn_worker_gates_total{tier,verdict}: gate verdicts;
 * - cairn_queue_jobs{tier,state}: the shared queues' job counts, read from Redis at scrape
 *   time (every worker reports the same numbers: aggregate with max, not sum);
 * - the process defaults (CPU, memory, event loop lag) prefixed cairn_worker_.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly jobs: Counter<'tier' | 'status'>;
  readonly durations: Histogram<'tier' | 'status'>;
  readonly running: Gauge<'tier'>;
  readonly examplesPerSecond: Gauge<'tier'>;
  readonly gates: Counter<'tier' | 'verdict'>;

  constructor(options: { queues?: TierQueues; tiers?: readonly Tier[] } = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'cairn_worker_' });
    this.jobs = new Counter({ name: 'cairn_worker_jobs_total', help: 'Jobs this worker ended, by tier and how they ended', labelNames: ['tier', 'status'], registers });
    this.durations = new Histogram({
      name: 'cairn_worker_job_duration_seconds',
      help: 'Wall-clock time of a job on this worker, from start to end',
      labelNames: ['tier', 'status'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400],
      registers,
    });
    this.running = new Gauge({ name: 'cairn_worker_jobs_running', help: 'Jobs running on this worker now', labelNames: ['tier'], registers });
    this.examplesPerSecond = new Gauge({ name: 'cairn_worker_examples_per_second', help: "Training throughput of the tier's last run on this worker (examples per second)", labelNames: ['tier'], registers });
    this.gates = new Counter({ name: 'cairn_worker_gates_total', help: 'Gate verdicts on runs this worker trained', labelNames: ['tier', 'verdict'], registers });
    for (const tier of options.tiers ?? []) {
      this.running.set({ tier }, 0);
    }
    const { queues, tiers } = options;
    if (queues && tiers?.length) {
      new Gauge({
        name: 'cairn_queue_jobs',
        help: 'Jobs in the shared tier queues by state (read from Redis when scraped; the same on every worker)',
        labelNames: ['tier', 'state'],
        registers,
        async collect() {
          for (const tier of tiers) {
            try {
              const counts = await queues.get(tier).getJobCounts(...QUEUE_STATES);
              for (const state of QUEUE_STATES) this.set({ tier, state }, counts[state] ?? 0);
            } catch {
              // Redis away: the gauge keeps its last values rather than failing the scrape.
            }
          }
        },
      });
    }
  }

  jobEnded(tier: Tier, status: JobOutcome, seconds: number): void {
    this.jobs.inc({ tier, status });
    this.durations.observe({ tier, status }, seconds);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Serves `GET /metrics` (and a plain `GET /` pointing at it). Port 0 picks a free port. */
export async function serveMetrics(metrics: WorkerMetrics, port: number, host?: string): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (url === '/metrics') {
      metrics
        .text()
        .then((body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : body))
        .catch((e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`));
      return;
    }
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('cairn worker: metrics at /metrics\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/metrics`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
