import { describe, expect, it } from 'vitest';
import { alignSeries, isSystemMetric } from './series.ts';
import { buildAxis, position } from './parallel-coords.ts';
import { resolveEdges, toElkGraph } from './lineage-layout.ts';

describe('series alignment', () => {
  it('merges steps and leaves gaps as null', () => {
    const data = alignSeries([
      { steps: [0, 2, 4], values: [1, 2, 3] },
      { steps: [1, 2], values: [5, NaN] },
    ]);
    expect(data).toEqual([
      [0, 1, 2, 4],
      [1, null, 2, 3],
      [null, 5, null, null],
    ]);
  });

  it('spots system metrics', () => {
    expect(isSystemMetric('system/cpu')).toBe(true);
    expect(isSystemMetric('gpu.util')).toBe(true);
    expect(isSystemMetric('val_loss')).toBe(false);
  });
});

describe('parallel coordinates axes', () => {
  it('uses a numeric axis when every value is a number', () => {
    const a = buildAxis('lr', [0.1, '0.5', undefined, 1])!;
    expect(a).toEqual({ key: 'lr', kind: 'number', min: 0.1, max: 1 });
    expect(position(a, 1)).toBe(1);
    expect(position(a, undefined)).toBeNull();
  });

  it('falls back to categories', () => {
    const a = buildAxis('opt', ['sgd', 'adam', 'sgd'])!;
    expect(a).toEqual({ key: 'opt', kind: 'category', values: ['adam', 'sgd'] });
    expect(position(a, 'sgd')).toBe(1);
  });
});

describe('lineage layout input', () => {
  it('resolves edges given as refs or ids and drops dangling ones', () => {
    const nodes = [
      { kind: 'snapshot', id: 's1' },
      { kind: 'run', id: 'r1' },
    ];
    const edges = resolveEdges(nodes, [
      { from: { kind: 'snapshot', id: 's1' }, to: { kind: 'run', id: 'r1' }, relation: 'input_to' },
      { from: 's1', to: 'run:r1', relation: 'input_to' },
      { from: 'nope', to: 'r1', relation: 'x' },
    ]);
    expect(edges).toEqual([{ id: 'snapshot:s1->run:r1:input_to', source: 'snapshot:s1', target: 'run:r1', relation: 'input_to' }]);
    const g = toElkGraph(nodes, edges);
    expect(g.layoutOptions['elk.direction']).toBe('RIGHT');
    expect(g.children.map((c) => c.id)).toEqual(['snapshot:s1', 'run:r1']);
  });
});
