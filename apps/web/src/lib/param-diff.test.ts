import { describe, expect, it } from 'vitest';
import { diffParams } from './param-diff.ts';

describe('param diff', () => {
  it('puts differing rows first and highlights the odd ones out', () => {
    const rows = diffParams([
      { params: { lr: 0.1, optimizer: 'adam', epochs: 10 } },
      { params: { lr: 0.1, optimizer: 'sgd', epochs: 10 } },
      { params: { lr: 0.1, optimizer: 'adam', epochs: 10, seed: 3 } },
    ]);
    expect(rows.map((r) => [r.key, r.differs])).toEqual([
      ['optimizer', true],
      ['seed', true],
      ['epochs', false],
      ['lr', false],
    ]);
    expect(rows[0]!.cells.map((c) => c.highlight)).toEqual([false, true, false]);
    // Two runs lack `seed`: the one that has it is the odd one out.
    expect(rows[1]!.cells.map((c) => c.highlight)).toEqual([false, false, true]);
  });

  it('highlights every cell of a differing row when no value is the usual one', () => {
    const rows = diffParams([{ params: { units: 32 } }, { params: { units: 8 } }]);
    expect(rows[0]!.cells.map((c) => c.highlight)).toEqual([true, true]);
  });

  it('treats a number and its string form as the same value', () => {
    const rows = diffParams([{ params: { lr: 0.1 } }, { params: { lr: '0.1' } }]);
    expect(rows[0]!.differs).toBe(false);
  });
});
