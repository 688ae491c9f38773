import { CairnError } from '@cairn/schema';
import { registerRunModel } from '@cairn/models';
import type { Tier } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { RunDetail, Store } from '@cairn/store';
import type { ChampionConfig } from './config/index.ts';

export interface ChampionResult {
  /** first: there was no champion; promoted: the run beat it; kept: it did not; error: the comparison could not be made. */
  decision: 'first' | 'promoted' | 'kept' | 'error';
  metric: string;
  challenger: number | null;
  champion: number | null;
  /** The version the alias points at afterwards (absent when unchanged or unknown). */
  version?: number;
  detail: string;
}

function lastValue(run: RunDetail | null, metric: string): number | null {
  const v = run?.metrics[metric]?.last;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Compares a finished run with the model version behind `model@alias` on one metric and,
 * when the run is better (or nothing is there yet), registers the run's model as the next
 * version and moves the alias to it. The decision and the numbers behind it are recorded
 * as the run's champion decision for `tier` (store.recordChampionDecision; the alias's own
 * history is in the model registry). Never throws: a comparison that cannot be made is
 * recorded as `error` and leaves the alias where it was.
 */
export async function challengeChampion(o: { store: Store; blobs: LocalBlobStore; runId: string; tier: Tier; config: ChampionConfig; objective: { metric: string; direction: 'maximize' | 'minimize' } }): Promise<ChampionResult> {
  const metric = o.config.metric ?? o.objective.metric;
  const direction = o.config.direction ?? o.objective.direction;
  const ref = `${o.config.model}@${o.config.alias}`;
  let result: ChampionResult;
  try {
    const run = await o.store.getRun(o.runId);
    const challenger = lastValue(run, metric);
    let current: { version: number; value: number | null } | null = null;
    try {
      const v = await o.store.resolveModelVersion(o.config.model, o.config.alias);
      current = { version: v.version, value: lastValue(v.runId ? await o.store.getRun(v.runId).catch(() => null) : null, metric) };
    } catch (e) {
      if (!(e instanceof CairnError && e.code === 'NOT_FOUND')) throw e;
    }
    if (challenger === null) {
      result = { decision: 'kept', metric, challenger, champion: current?.value ?? null, detail: `the run has no finite ${metric}; ${ref} unchanged` };
    } else if (current && current.value === null) {
      result = { decision: 'kept', metric, challenger, champion: null, detail: `${ref} (v${current.version}) has no ${metric} to compare with; unchanged` };
    } else {
      const better = !current || (direction === 'maximize' ? challenger > current.value! + o.config.minImprovement : challenger < current.value! - o.config.minImprovement);
      if (!better) {
        result = { decision: 'kept', metric, challenger, champion: current!.value, detail: `${metric} ${challenger} does not beat ${ref} (v${current!.version}, ${current!.value})${o.config.minImprovement ? ` by ${o.config.minImprovement}` : ''}` };
      } else {
        const v = await registerRunModel({ store: o.store, blobs: o.blobs, runId: o.runId, name: o.config.model, description: `challenger from run ${o.runId}: ${metric} ${challenger}` });
        await o.store.setModelAlias(o.config.model, o.config.alias, v.version);
        result = current
          ? { decision: 'promoted', metric, challenger, champion: current.value, version: v.version, detail: `${metric} ${challenger} beats ${current.value} of v${current.version}: ${ref} → v${v.version}` }
          : { decision: 'first', metric, challenger, champion: null, version: v.version, detail: `no champion yet: ${ref} → v${v.version} (${metric} ${challenger})` };
      }
    }
  } catch (e) {
    result = { decision: 'error', metric, challenger: null, champion: null, detail: `could not compare with ${ref}: ${(e as Error).message}` };
  }
  await o.store
    .recordChampionDecision({
      runId: o.runId,
      tier: o.tier,
      decision: result.decision,
      model: o.config.model,
      alias: o.config.alias,
      metric,
      challenger: result.challenger,
      champion: result.champion,
      version: result.version ?? null,
      detail: result.detail.slice(0, 2000),
    })
    .catch(() => undefined);
  return result;
}
