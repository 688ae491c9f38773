import type { Redis } from 'ioredis';
import { InvalidStateError } from '@cairn/schema';
import type { RunStatus, Store } from '@cairn/store';
import { DEFAULT_QUEUE_PREFIX, type TierQueues } from './queues.ts';
import { eachLimit } from './sweep-runner/each-limit.ts';
import { DEFAULT_LOCK_WAIT_MS, withSweepLock, type SweepDeps } from './sweep-runner/lock.ts';
import { sweepRecord } from './sweep-runner/spec.ts';
import { ended, listTrialRuns, sweepStatusOf } from './sweep-runner/state.ts';

/*
 * Cancelling: a run (its job removed, or its worker told to stop it) and a sweep (its
 * parent, then its trials). The worker listens on cancelChannel; the sweep runner and the
 * API call these. No training engine here: the queues entry exports them.
 */

/** Trials cancelled at once. */
const CANCEL_CONCURRENCY = 8;

/** Channel on which `cancelRun` tells every worker to stop a run it is training. */
export function cancelChannel(prefix = DEFAULT_QUEUE_PREFIX): string {
  return `${prefix}:cancel`;
}

/**
 * Cancels a run: a waiting job is removed and the run ends `cancelled`; a running one is
 * stopped through its AbortSignal by whichever worker holds it (it checkpoints and ends
 * `cancelled`). A sweep's parent cancels the sweep (cancelSweep): it ends `cancelled`
 * at once ('removed'), its queued trials are removed and its running ones signalled.
 */
export async function cancelRun(runId: string, deps: { store: Store; queues: TierQueues; connection: Redis; prefix?: string }): Promise<'removed' | 'signalled' | 'already-ended'> {
  const run = await deps.store.getRun(runId);
  if (run.status !== 'queued' && run.status !== 'running') return 'already-ended';
  // A sweep: its parent ends cancelled and its trials are cancelled (queued removed, running signalled).
  if (await deps.store.getSweep(run.id)) {
    await cancelSweep(run.id, { store: deps.store, queues: deps.queues });
    return 'removed';
  }
  if (run.status === 'queued') {
    for (const q of deps.queues.all()) {
      const job = await q.getJob(runId);
      if (job && ['waiting', 'delayed', 'prioritized', 'waiting-children'].includes(await job.getState())) await job.remove();
    }
    await deps.store.endRun(runId, 'cancelled', 'cancelled before it started');
    return 'removed';
  }
  await deps.connection.publish(cancelChannel(deps.prefix), runId);
  return 'signalled';
}

export interface CancelledSweep {
  parentId: string;
  /** 'cancelled' now, or how it had already ended. */
  parent: 'cancelled' | RunStatus;
  /** Queued trials whose jobs were removed (ended cancelled). */
  removed: string[];
  /** Running trials asked to stop (they checkpoint and end cancelled). */
  signalled: string[];
}

/**
 * Cancels a sweep: the parent ends `cancelled` first (so no advance creates another
 * trial), then queued trials are taken off their queue and end cancelled, and running ones
 * are signalled to stop. Holds the sweep's lock, like an advance.
 */
export async function cancelSweep(parentId: string, deps: SweepDeps, reason = 'sweep cancelled'): Promise<CancelledSweep> {
  return withSweepLock(deps.queues, parentId.toLowerCase(), deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, async () => {
    const { store, queues } = deps;
    const parent = await store.getRun(parentId);
    const { record } = await sweepRecord(store, parent.id);
    let status: CancelledSweep['parent'] = parent.status;
    if (parent.status === 'running' || parent.status === 'queued') {
      await store.endRun(parent.id, 'cancelled', reason);
      status = 'cancelled';
    }
    if (record.status === 'running') await store.updateSweep(parent.id, { status: sweepStatusOf(status === 'cancelled' ? 'cancelled' : parent.status) });
    const removed: string[] = [];
    const signalled: string[] = [];
    const live = (await listTrialRuns(store, parent.id)).map((t) => t.run).filter((t) => !ended(t.status));
    await eachLimit(live, CANCEL_CONCURRENCY, async (t) => {
      try {
        const r = await cancelRun(t.id, { store, queues, connection: queues.connection, prefix: queues.prefix });
        if (r === 'removed') removed.push(t.id);
        else if (r === 'signalled') signalled.push(t.id);
      } catch (e) {
        // A trial a worker took between the listing and the removal: it sees the sweep cancelled and stops itself.
        if (!(e instanceof InvalidStateError)) await queues.connection.publish(cancelChannel(queues.prefix), t.id).catch(() => undefined);
        signalled.push(t.id);
      }
    });
    return { parentId: parent.id, parent: status, removed, signalled };
  });
}
