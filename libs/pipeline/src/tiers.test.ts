import { TIERS } from '@cairn/engine';
import { describe, expect, it } from 'vitest';
import { PIPELINE_TIERS } from './tiers.ts';

describe('PIPELINE_TIERS', () => {
  it("is the engine's TIERS, in the same order", () => {
    expect([...PIPELINE_TIERS]).toEqual([...TIERS]);
  });
});
