import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Tier } from '@cairn/engine';

/**
 * Worker heartbeats: every worker process keeps a Redis key `<prefix>:workers:<id>` with
 * what it is and what it runs, refreshed every HEARTBEAT_MS and expiring after
 * HEARTBEAT_TTL_S, so `cairn queue` lists live workers (a killed one drops out within the
 * TTL). Jobs have BullMQ's own heartbeat besides (their lock, renewed while they run; a
 * job whose worker died is taken up again by another), and runs theirs in the store
 * (the tracking client's `heartbeatAt`).
 */
export const HEARTBEAT_MS = 10_000;
export const HEARTBEAT_TTL_S = 30;

export interface WorkerBeat {
  id: string;
  host: string;
  pid: number;
  tiers: Tier[];
  /** Jobs at once per tier (--concurrency, else each tier's config). */
  concurrency: Partial<Record<Tier, number>>;
  startedAt: string;
  beatAt: string;
  metricsUrl: string | null;
  running: { runId: string; tier: Tier; since: string }[];
}

export function heartbeatKey(prefix: string, id: string): string {
  return `${prefix}:workers:${id}`;
}

export function workerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export function startHeartbeat(connection: Redis, prefix: string, beat: () => WorkerBeat, intervalMs = HEARTBEAT_MS): { stop(): Promise<void>; beatNow(): Promise<void> } {
  const key = heartbeatKey(prefix, beat().id);
  const write = async () => {
    try {
      await connection.set(key, JSON.stringify({ ...beat(), beatAt: new Date().toISOString() }), 'EX', HEARTBEAT_TTL_S);
    } catch {
      // Redis away for a moment: the next beat writes again.
    }
  };
  const timer = setInterval(() => void write(), intervalMs);
  timer.unref();
  return {
    beatNow: write,
    async stop() {
      clearInterval(timer);
      await connection.del(key).catch(() => undefined);
    },
  };
}

/** The live workers of a prefix, oldest first. */
export async function listWorkerBeats(connection: Redis, prefix: string): Promise<WorkerBeat[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await connection.scan(cursor, 'MATCH', `${escapeGlob(prefix)}:workers:*`, 'COUNT', 500);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  if (!keys.length) return [];
  const values = await connection.mget(...keys);
  const beats: WorkerBeat[] = [];
  for (const v of values) {
    if (!v) continue;
    try {
      beats.push(JSON.parse(v) as WorkerBeat);
    } catch {
      // not ours
    }
  }
  return beats.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
