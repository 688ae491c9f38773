import { describe, expect, it } from 'vitest';
import { compareHref, decodeCompareIds, decodeRunsView, encodeRunsView, EMPTY_VIEW, MAX_COMPARE, nextSort, orderByOf, parseSort, runsViewHref } from './url-state.ts';

describe('runs view URL state', () => {
  it('round-trips filter, sort, columns and experiment', () => {
    const state = {
      filter: "metrics.val_accuracy > 0.9 or status = 'failed'",
      sort: [{ field: 'metrics.val_accuracy', desc: true }, { field: 'created', desc: false }],
      columns: ['params.lr', 'metrics.loss', 'tags.team'],
      experiment: 'iris-quickstart',
    };
    const back = decodeRunsView(new URLSearchParams(encodeRunsView(state).toString()));
    expect(back).toEqual(state);
  });

  it('leaves defaults out of the URL', () => {
    expect(runsViewHref(EMPTY_VIEW)).toBe('/runs');
    expect(decodeRunsView(new URLSearchParams(''))).toEqual(EMPTY_VIEW);
  });

  it('keeps an empty column choice distinct from the defaults', () => {
    const s = decodeRunsView(new URLSearchParams('cols='));
    expect(s.columns).toEqual([]);
  });

  it('parses sort specs and builds orderBy', () => {
    expect(parseSort('metrics.acc desc')).toEqual({ field: 'metrics.acc', desc: true });
    expect(parseSort('params.lr')).toEqual({ field: 'params.lr', desc: false });
    expect(parseSort('  ')).toBeNull();
    expect(orderByOf([])).toBeUndefined();
    expect(orderByOf([{ field: 'created', desc: true }])).toEqual(['created desc']);
    expect(decodeRunsView(new URLSearchParams('sort=metrics.a+desc,name')).sort).toEqual([
      { field: 'metrics.a', desc: true },
      { field: 'name', desc: false },
    ]);
  });

  it('cycles a column sort desc → asc → none', () => {
    const a = nextSort([], 'metrics.acc');
    expect(a).toEqual([{ field: 'metrics.acc', desc: true }]);
    const b = nextSort(a, 'metrics.acc');
    expect(b).toEqual([{ field: 'metrics.acc', desc: false }]);
    expect(nextSort(b, 'metrics.acc')).toEqual([]);
    expect(nextSort(b, 'params.lr')).toEqual([{ field: 'params.lr', desc: true }]);
  });
});

describe('compare ids', () => {
  it('dedupes, trims and caps at the maximum', () => {
    expect(decodeCompareIds(new URLSearchParams('ids=a,b, a,,c'))).toEqual(['a', 'b', 'c']);
    const many = Array.from({ length: 150 }, (_, i) => `r${i}`);
    expect(decodeCompareIds(new URLSearchParams(`ids=${many.join(',')}`))).toHaveLength(MAX_COMPARE);
  });

  it('builds the compare link', () => {
    expect(compareHref(['a', 'b'])).toBe('/compare?ids=a,b');
    expect(decodeCompareIds(new URL(`http://x${compareHref(['a/b', 'c'])}`).searchParams)).toEqual(['a/b', 'c']);
  });
});

import { defaultColumns, fieldColumn, toggleColumn } from './columns.ts';

describe('columns', () => {
  it('picks validation metrics first, then params, skipping system metrics', () => {
    const cols = defaultColumns({ params: ['optimizer', 'lr'], metrics: ['loss', 'system/cpu', 'val_loss', 'epoch_time'], tags: ['team'] });
    expect(cols).toEqual(['metrics.val_loss', 'metrics.loss', 'metrics.epoch_time', 'params.lr', 'params.optimizer']);
  });

  it('parses and toggles field columns', () => {
    expect(fieldColumn('metrics.val.acc')).toEqual({ id: 'metrics.val.acc', group: 'metrics', key: 'val.acc' });
    expect(fieldColumn('created')).toBeNull();
    expect(toggleColumn(['a', 'b'], 'a')).toEqual(['b']);
    expect(toggleColumn(['b'], 'a')).toEqual(['b', 'a']);
  });
});

import { uniquePrefixes } from './format.ts';

describe('unique prefixes', () => {
  it('lengthens the prefix until the ids differ, never ending on a dash', () => {
    const m = uniquePrefixes(['01a21daf-7bdf-721c', '01a21daf-7fbf-70de']);
    expect(m.get('01a21daf-7bdf-721c')).toBe('01a21daf-7b');
    expect(uniquePrefixes(['abcdef0123', 'fedcba9876']).get('abcdef0123')).toBe('abcdef01');
  });
});
