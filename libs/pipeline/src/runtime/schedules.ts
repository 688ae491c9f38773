import { Queue, Worker, type Job, type JobSchedulerJson } from 'bullmq';
import type { Redis } from 'ioredis';
import { TIERS, type Tier } from '@cairn/engine';
import { candidateFilter, type PipelineConfig } from '../config/index.ts';
import type { TierQueues } from '../queues.ts';
import { jobOptions } from '../worker.ts';
import type { RunDetail, Store } from '@cairn/store';

/**
 * Scheduled tiers (nightly, weekly): a BullMQ job scheduler per tier, on a queue of their
 * own (`<prefix>-schedule`), so the tier queues only ever hold jobs that name a run. When
 * a schedule fires, whichever worker takes the job creates the tier's runs from the
 * newest candidates (see fireSchedule) and queues them on the tier's queue.
 */
export interface ScheduleJobData {
  tier: Tier;
}

export function scheduleQueueName(prefix: string): string {
  return `${prefix}-schedule`;
}

export function scheduleQueue(connection: Redis, prefix: string): Queue<ScheduleJobData> {
  const q = new Queue<ScheduleJobData>(scheduleQueueName(prefix), { connection });
  q.on('error', () => undefined); // surfaced by the awaited calls; unheard, BullMQ prints each
  return q;
}

/** What the scheduler registered for a tier (the listing `cairn schedules` prints). */
export interface RegisteredSchedule {
  tier: string;
  pattern: string | null;
  timezone: string | null;
  next: Date | null;
  iterations: number;
}

/**
 * Registers (or updates) the job scheduler of every scheduled tier in `tiers`, and removes
 * the scheduler of a tier in `tiers` whose config no longer has a schedule. Upserting is
 * idempotent, so every worker does it at startup; the last one started wins.
 */
export async function registerSchedules(queue: Queue<ScheduleJobData>, config: PipelineConfig, tiers: readonly Tier[]): Promise<{ registered: Tier[]; removed: Tier[] }> {
  const registered: Tier[] = [];
  const removed: Tier[] = [];
  for (const tier of tiers) {
    const t = config.tiers[tier];
    if (t.schedule) {
      await queue.upsertJobScheduler(tier, { pattern: t.schedule, tz: t.timezone }, { name: 'schedule', data: { tier }, opts: { removeOnComplete: 100, removeOnFail: 500 } });
      registered.push(tier);
    } else if (await queue.getJobScheduler(tier)) {
      await queue.removeJobScheduler(tier);
      removed.push(tier);
    }
  }
  return { registered, removed };
}

export async function listSchedules(queue: Queue<ScheduleJobData>): Promise<RegisteredSchedule[]> {
  const all: JobSchedulerJson<ScheduleJobData>[] = await queue.getJobSchedulers(0, -1, true);
  return all.map((s) => ({
    tier: s.template?.data?.tier ?? s.key,
    pattern: s.pattern ?? null,
    timezone: s.tz ?? null,
    next: s.next !== undefined ? new Date(s.next) : null,
    iterations: s.iterationCount ?? 0,
  }));
}

export interface FireResult {
  tier: Tier;
  /** Runs created and queued, with the candidate each trains. */
  created: { runId: string; candidate: string; snapshotId: string }[];
  /** Candidates passed over, and why. */
  skipped: { candidate: string; reason: string }[];
  /** Set when nothing could be considered at all. */
  note?: string;
}

/** Candidates searched per firing: the newest passing run of each experiment among them is trained. */
const CANDIDATE_WINDOW = 500;

/**
 * A scheduled tier's job: for each experiment, the newest finished run of `candidatesFrom`
 * whose gate passed as the pipeline recorded it (config.candidateFilter reads the store's
 * gate results, never tags; newest ended first) gives the code, params and
 * data; a run of the tier is created `queued` with them and enqueued with the tier's job
 * options. The data is the candidate's own snapshot (`snapshot: 'pinned'`) or the newest
 * snapshot of the dataset it belongs to (`'latest'`). A candidate that already has a run of
 * this tier on that snapshot (queued, running, finished or abandoned; known by the
 * pipeline's lineage, not by tags) is skipped, so a schedule firing twice without new code
 * or data trains nothing twice.
 */
export async function fireSchedule(tier: Tier, deps: { store: Store; queues: TierQueues; config: PipelineConfig }): Promise<FireResult> {
  const { store, config } = deps;
  const result: FireResult = { tier, created: [], skipped: [] };
  const filter = candidateFilter(config, tier);
  if (!filter) return { ...result, note: `tier ${tier} takes no candidates (set tiers.${tier}.candidatesFrom)` };
  const found = await store.searchRuns({ filter, orderBy: ['ended desc'], limit: CANDIDATE_WINDOW });
  const newest = new Map<string, RunDetail>();
  for (const run of found.runs) if (!newest.has(run.experimentId)) newest.set(run.experimentId, run);
  if (newest.size === 0) return { ...result, note: `no run of ${config.tiers[tier].candidatesFrom} has passed its gate yet` };

  for (const candidate of newest.values()) {
    if (!candidate.codeHash || !/^[0-9a-f]{64}$/.test(candidate.codeHash)) {
      result.skipped.push({ candidate: candidate.id, reason: 'it has no code bundle (it was not run through the queue)' });
      continue;
    }
    const pinned = candidate.snapshotIds[0];
    if (!pinned) {
      result.skipped.push({ candidate: candidate.id, reason: 'it names no data snapshot' });
      continue;
    }
    const snapshotId = config.tiers[tier].snapshot === 'latest' ? ((await latestOfSameDataset(store, pinned)) ?? pinned) : pinned;
    const done = (await trainedFrom(store, candidate.id, tier)).find((r) => r.snapshotIds[0] === snapshotId && ['queued', 'running', 'finished', 'abandoned'].includes(r.status));
    if (done) {
      result.skipped.push({ candidate: candidate.id, reason: `already trained on this data by run ${done.id} (${done.status})` });
      continue;
    }
    const run = await store.createRun({
      experimentId: candidate.experimentId,
      status: 'queued',
      tier,
      code: { gitSha: candidate.gitSha, gitDirty: candidate.gitDirty, codeHash: candidate.codeHash },
      snapshotIds: [snapshotId],
      params: candidate.params,
      tags: { ...pick(candidate.tags, ['definition', 'module']), promoted_from: candidate.id, scheduled: 'true' },
      queuePrefix: deps.queues.prefix,
    });
    await store.addLineageEdge({ kind: 'run', id: candidate.id }, { kind: 'run', id: run.id }, 'promoted_to');
    await deps.queues.enqueue(tier, run.id, jobOptions(config.tiers[tier]));
    result.created.push({ runId: run.id, candidate: candidate.id, snapshotId });
  }
  return result;
}

/**
 * The runs of `tier` the pipeline created from `candidateId`: its `promoted_to` lineage
 * edges, which only the pipeline writes (the `promoted_from` tag on those runs is for
 * people and may be edited; it decides nothing).
 */
async function trainedFrom(store: Store, candidateId: string, tier: Tier): Promise<RunDetail[]> {
  const graph = await store.lineage({ kind: 'run', id: candidateId }, { direction: 'downstream', depth: 1 });
  const ids = graph.edges.filter((e) => e.relation === 'promoted_to' && e.from.kind === 'run' && e.from.id === candidateId && e.to.kind === 'run').map((e) => e.to.id);
  return (await store.getRuns(ids)).filter((r) => r.tier === tier);
}

/** The newest snapshot of the dataset that `snapshotId` is a version of (null when no dataset records it). */
async function latestOfSameDataset(store: Store, snapshotId: string): Promise<string | null> {
  for (const d of await store.listDatasets()) {
    if (d.latestSnapshotId === snapshotId) return snapshotId;
    const versions = await store.listSnapshots(d.name);
    if (versions.some((s) => s.id === snapshotId)) return versions[0]?.id ?? null;
  }
  return null;
}

function pick(tags: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => tags[k] !== undefined).map((k) => [k, tags[k]!]));
}

/** The worker that fires schedules: one job at a time, in every worker process (BullMQ gives each firing to one). */
export function startScheduleWorker(deps: { connection: Redis; prefix: string; store: Store; queues: TierQueues; config: PipelineConfig; onFired?: (r: FireResult) => void; onError?: (tier: string, e: Error) => void }): { worker: Worker<ScheduleJobData>; close(): Promise<void> } {
  const connection = deps.connection.duplicate({ maxRetriesPerRequest: null });
  connection.on('error', () => undefined);
  const worker = new Worker<ScheduleJobData>(
    scheduleQueueName(deps.prefix),
    async (job: Job<ScheduleJobData>) => {
      const tier = job.data?.tier;
      if (!(TIERS as readonly string[]).includes(tier)) throw new Error(`schedule job names no known tier (${JSON.stringify(tier)})`);
      const r = await fireSchedule(tier, deps);
      deps.onFired?.(r);
      return r;
    },
    { connection, concurrency: 1 },
  );
  worker.on('failed', (job, e) => deps.onError?.(job?.data?.tier ?? '?', e));
  worker.on('error', () => undefined);
  return {
    worker,
    async close() {
      await worker.close();
      connection.disconnect();
    },
  };
}
