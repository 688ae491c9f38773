import type { Tier } from '@cairn/engine';
import { TIERS } from '@cairn/engine/tiers';
import type { PipelineConfig } from './defaults.ts';

/**
 * The filter a scheduled tier's job uses to pick its code: finished runs of
 * `candidatesFrom` whose gate for that tier passed, as the pipeline recorded it
 * (`gate.<tier>` reads the store's gate results, never tags). Search with it, newest
 * first (`orderBy: ['ended desc']`, limit 1), within the definition's experiment. Null
 * when the tier takes no candidates.
 */
export function candidateFilter(config: PipelineConfig, tier: Tier): string | null {
  const from = config.tiers[tier].candidatesFrom;
  if (from === undefined) return null;
  // `from` is one of TIERS (the config schema refuses anything else), so it needs no quoting.
  return `tier = '${from}' AND status = 'finished' AND gate.${from} = 'passed'`;
}

/** What happens when a run of `tier` passes its gate. */
export type Promotion = { kind: 'enqueue'; tier: Tier } | { kind: 'eligible'; tiers: Tier[] };

/**
 * What a passed gate of `tier` leads to: the tier it enqueues at once (promotesTo),
 * and/or the scheduled tiers it makes the code a candidate for (their candidatesFrom).
 */
export function promotionsFor(config: PipelineConfig, tier: Tier): Promotion[] {
  const out: Promotion[] = [];
  const to = config.tiers[tier].promotesTo;
  if (to !== undefined) out.push({ kind: 'enqueue', tier: to });
  const scheduled = TIERS.filter((t) => config.tiers[t].candidatesFrom === tier);
  if (scheduled.length) out.push({ kind: 'eligible', tiers: scheduled });
  return out;
}
