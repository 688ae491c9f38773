import { describe, expect, it } from 'vitest';
import { parseSweepSpec } from './policies.ts';
import { readSweepSpec } from './spec.ts';

const spec = (policies: unknown) => ({
  version: 1,
  space: { lr: { type: 'uniform', min: 0.001, max: 0.1 } },
  strategy: { kind: 'random' },
  seed: 7,
  maxTrials: 4,
  parallel: 2,
  objective: { metric: 'val_acc', direction: 'maximize' },
  policies,
  prefix: 'cairn',
  job: {},
});

describe('reading a stored sweep spec', () => {
  it('reads the same spec either way when every policy is valid', () => {
    const stored = JSON.stringify(spec([{ kind: 'median', minEvaluations: 2 }, { kind: 'truncation', percent: 25 }]));
    expect(readSweepSpec(stored)).toEqual(parseSweepSpec(stored));
    expect(parseSweepSpec(stored).policies).toEqual([{ kind: 'median', minEvaluations: 2 }, { kind: 'truncation', percent: 25 }]);
  });

  it("checks truncation specs and the list itself without the engine, and leaves the engine's options to parseSweepSpec", () => {
    expect(() => readSweepSpec(spec([{ kind: 'truncation', percent: 100 }]))).toThrow(/policy spec #1: percent: must be a number greater than 0 and less than 100/);
    expect(() => readSweepSpec(spec({ kind: 'median' }))).toThrow(/sweep policies must be an array/);
    const bad = spec([{ kind: 'plateau', patiance: 3 }]);
    expect(readSweepSpec(bad).policies).toEqual([{ kind: 'plateau', patiance: 3 }]);
    expect(() => parseSweepSpec(bad)).toThrow(/invalid policy spec #1: .*patiance/);
  });
});
