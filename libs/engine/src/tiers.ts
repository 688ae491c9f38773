/**
 * The continuous-training tiers, cheapest first. A file of its own that imports nothing,
 * so `@cairn/engine/tiers` gives them to code that must not load tfjs (the queues entry
 * the API server uses) from the one place they are defined.
 */
export type Tier = 'ci' | 'extended' | 'nightly' | 'weekly';
export const TIERS: readonly Tier[] = ['ci', 'extended', 'nightly', 'weekly'];
