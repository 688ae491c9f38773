import type { PolicySpec, Tier, TierSettings, TrainingDefinition } from '@cairn/engine';
import type { PipelineConfig } from './defaults.ts';

/**
 * The engine's settings for one tier: what runTraining's `{ subset, epochs,
 * timeBudgetMs, policies }` should be for `tier`.
 *
 * Precedence, lowest first: the engine's TIER_DEFAULTS, then cairn.config.ts (over
 * DEFAULT_PIPELINE_CONFIG, which sets every field but `epochs` outside ci), then the
 * definition's own `tiers[tier]` (`definitionTiers`). The definition wins because it
 * is the more specific: the model's author knows how much of their data a smoke test
 * needs, how many epochs the model takes and which policies suit its objective
 * (`policies` replaces the config's list; it is not added to it). The one exception is
 * `timeBudgetMs`: the budget is the operator's limit that queues and workers are sized
 * to, so a definition may shorten it but never lengthen it.
 */
export function tierSettingsFor(config: PipelineConfig, tier: Tier, definitionTiers?: TrainingDefinition['tiers']): TierSettings & { subset: number; timeBudgetMs: number; policies: PolicySpec[] } {
  const t = config.tiers[tier];
  const own = definitionTiers?.[tier] ?? {};
  const epochs = own.epochs ?? t.epochs;
  return {
    subset: own.subset ?? t.subset,
    ...(epochs !== undefined ? { epochs } : {}),
    timeBudgetMs: own.timeBudgetMs !== undefined ? Math.min(own.timeBudgetMs, t.timeBudgetMs) : t.timeBudgetMs,
    policies: structuredClone(own.policies ?? t.policies),
  };
}

/**
 * The definition with `tiers[tier]` replaced by tierSettingsFor's settings, so that
 * `runTraining({ definition, tier })` trains with exactly them: runTraining spreads
 * the definition's tier over TIER_DEFAULTS, and these settings set every field it
 * reads (epochs too whenever the config or the definition gives it).
 */
export function definitionForTier<D extends TrainingDefinition>(definition: D, config: PipelineConfig, tier: Tier): D {
  return { ...definition, tiers: { ...definition.tiers, [tier]: tierSettingsFor(config, tier, definition.tiers) } };
}
