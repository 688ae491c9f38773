import { parsePolicySpecs } from '@cairn/engine';
import { ValidationError } from '@cairn/schema';
import { POLICIES_NOT_A_LIST, isTruncation, parseTruncation, readSweepSpec, type SweepPolicySpec, type SweepSpec } from './spec.ts';

/**
 * Early-termination policies for a sweep's trials: the engine's specs (median and bandit
 * compare a trial with its ended siblings) plus truncation selection
 * `{ kind: 'truncation', percent, minEvaluations? }`.
 */
export function parseSweepPolicies(input: unknown): SweepPolicySpec[] {
  if (!Array.isArray(input)) throw new ValidationError(POLICIES_NOT_A_LIST);
  return input.map((p, i) => {
    if (isTruncation(p)) return parseTruncation(p, i);
    return parsePolicySpecs([p])[0]!;
  });
}

/** A stored spec read back with every policy checked, the engine's included (see readSweepSpec). */
export function parseSweepSpec(stored: unknown): SweepSpec {
  return readSweepSpec(stored, parseSweepPolicies);
}
