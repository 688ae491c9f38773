import type { MetricPoint, Reporter } from '@cairn/engine';
import type { Store } from '@cairn/store';
import type { TrackedRun } from '@cairn/tracking';

/**
 * The engine's Reporter over a tracked run: metric points grouped by step into one
 * buffered `log` each (never waits), artifacts recorded on the run, and environment
 * facts (the backend a run settled on) merged into the run's environment.
 */
export function trackingReporter(run: TrackedRun, store: Store): Reporter {
  return {
    metrics(points: MetricPoint[]) {
      const bySteps = new Map<number, Record<string, number>>();
      for (const p of points) {
        const row = bySteps.get(p.step) ?? {};
        row[p.key] = p.value;
        bySteps.set(p.step, row);
      }
      for (const [step, values] of bySteps) run.log(values, { step });
    },
    artifact: async (a) => {
      // A checkpoint is only recorded once the metrics logged before it are stored: a run
      // resumed from it (its worker killed) then carries on with no gap in its series.
      if (a.path.startsWith('checkpoints/')) await run.flush();
      await run.logArtifact({ path: a.path, hash: a.hash, size: a.size, ...(a.mediaType ? { mediaType: a.mediaType } : {}) });
    },
    environment: async (facts) => void (await store.mergeEnvironment(run.id, facts)),
  };
}

/** The newest checkpoint a run recorded, for resuming it (a retried job, `cairn run --resume`). */
export async function lastCheckpoint(store: Store, runId: string): Promise<{ id: string; epoch: number; step: number } | null> {
  const ckpts = (await store.listArtifacts(runId)).filter((a) => a.path.startsWith('checkpoints/')).sort((a, b) => a.path.localeCompare(b.path));
  const last = ckpts.at(-1);
  if (!last) return null;
  return { id: last.hash, epoch: 0, step: Number(/step-(\d+)/.exec(last.path)?.[1] ?? 0) };
}
