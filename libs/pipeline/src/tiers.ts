import type { Tier } from '@cairn/engine';

/*
 * The tiers, cheapest first: the engine's TIERS, repeated here because the engine's entry
 * loads tfjs and the queues entry must not (the API server reaches the queues through it).
 * The compiler keeps the two the same set (a Record over the engine's Tier type refuses a
 * missing or an extra tier) and tiers.test.ts keeps them in the same order.
 */

const RANK: Record<Tier, number> = { ci: 0, extended: 1, nightly: 2, weekly: 3 };

/** The engine's TIERS, without loading the engine. */
export const PIPELINE_TIERS: readonly Tier[] = Object.freeze((Object.keys(RANK) as Tier[]).sort((a, b) => RANK[a] - RANK[b]));
