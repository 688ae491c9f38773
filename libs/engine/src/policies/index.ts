import type { Policy, PolicyContext, PolicySpec, Verdict } from '../types.ts';
import { banditPolicy } from './bandit.ts';
import { medianPolicy } from './median.ts';
import { nanPolicy } from './nan.ts';
import { plateauPolicy } from './plateau.ts';
import { parsePolicySpec } from './schema.ts';
import { timeBudgetPolicy } from './time-budget.ts';
import { trendPolicy } from './trend.ts';
import type { PolicyOptions } from './util.ts';

export { banditPolicy, banditBound } from './bandit.ts';
export { medianPolicy, median, MEDIAN_MIN_PEERS, DEFAULT_MIN_EVALUATIONS } from './median.ts';
export { nanPolicy, nonFinite, nanVerdict } from './nan.ts';
export { plateauPolicy } from './plateau.ts';
export { policySpecSchema, parsePolicySpec, parsePolicySpecs, POLICY_KINDS } from './schema.ts';
export { timeBudgetPolicy } from './time-budget.ts';
export { trendPolicy, slope } from './trend.ts';
export type { PolicyOptions } from './util.ts';

/**
 * Builds the policy a spec names. The spec is validated first (specs arrive from users
 * and queues as plain data): a bad one throws a ValidationError naming the field.
 * `options.metric` names the objective in reasons.
 */
export function createPolicy(spec: PolicySpec, options?: PolicyOptions): Policy {
  const s = parsePolicySpec(spec);
  switch (s.kind) {
    case 'nan':
      return nanPolicy(options);
    case 'time-budget':
      return timeBudgetPolicy(s, options);
    case 'plateau':
      return plateauPolicy(s, options);
    case 'trend':
      return trendPolicy(s, options);
    case 'median':
      return medianPolicy(s, options);
    case 'bandit':
      return banditPolicy(s, options);
  }
}

/** Builds each spec's policy, in order; a bad spec's error names its position. */
export function createPolicies(specs: readonly PolicySpec[], options?: PolicyOptions): Policy[] {
  return specs.map((spec, i) => createPolicy(parsePolicySpec(spec, `policy spec #${i + 1}`), options));
}

/**
 * Runs the policies in the given order and returns the first verdict, or null to keep
 * going. Order is the caller's priority: put cheap, certain checks (nan, time-budget)
 * first so their reason is the one recorded when several would fire.
 */
export function checkPolicies(policies: readonly Policy[], ctx: PolicyContext): Verdict | null {
  for (const p of policies) {
    const v = p.check(ctx);
    if (v) return v;
  }
  return null;
}
