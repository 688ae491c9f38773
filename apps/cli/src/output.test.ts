import { describe, expect, it } from 'vitest';
import { parseColumn, splitColumnList } from './columns.ts';
import { formatNumber, oneLine, truncate } from './output/format.ts';
import { toJson } from './output/io.ts';
import { renderTable } from './output/table.ts';

describe('output helpers', () => {
  it('writes NaN and infinities as strings and dates as ISO in JSON', () => {
    const d = new Date('2026-01-02T03:04:05.678Z');
    expect(JSON.parse(toJson({ a: Number.NaN, b: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], c: d, e: 1.5 }))).toEqual({
      a: 'NaN',
      b: ['Infinity', '-Infinity'],
      c: '2026-01-02T03:04:05.678Z',
      e: 1.5,
    });
  });

  it('formats metric values compactly', () => {
    expect(formatNumber(0.912345)).toBe('0.9123');
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(1e-7)).toBe('1e-7');
    expect(formatNumber(Number.NaN)).toBe('NaN');
    expect(formatNumber(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(formatNumber(0.912345, 6)).toBe('0.912345');
  });

  it('cuts text by display width and neutralizes escape sequences', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('日本語テキスト', 5)).toBe('日本…');
    expect(oneLine('a\u001b[31mred\nline')).toBe('a\ufffd[31mred line');
  });

  it('renders an aligned table without trailing blanks, never cutting headers', () => {
    const table = renderTable(
      [{ header: 'NAME', max: 6 }, { header: 'metrics.acc', align: 'right', max: 4 }, { header: 'NOTE' }],
      [
        ['a-very-long-name', '0.9', ''],
        ['b', '12.25', 'x'],
      ],
    );
    expect(table.split('\n')).toEqual(['NAME    metrics.acc  NOTE', 'a-ver…          0.9', 'b             12.25  x']);
  });

  it('narrows columns that allow it to fit a width', () => {
    const table = renderTable([{ header: 'A', min: 3 }, { header: 'B' }], [['abcdefghij', 'keep']], { width: 12 });
    expect(table.split('\n')[1]).toBe('abcde…  keep');
  });

  it('reads --columns like filter fields', () => {
    expect(splitColumnList(['params.lr,metrics.acc.max', 'metrics.`a,b`.min'])).toEqual(['params.lr', 'metrics.acc.max', 'metrics.`a,b`.min']);
    expect(parseColumn('params.model.depth')).toEqual({ kind: 'param', key: 'model.depth' });
    expect(parseColumn('metrics.acc.max')).toEqual({ kind: 'metric', key: 'acc', agg: 'max' });
    expect(parseColumn('metrics.val/acc')).toEqual({ kind: 'metric', key: 'val/acc', agg: 'last' });
    expect(parseColumn('Metric.`val acc`.count')).toEqual({ kind: 'metric', key: 'val acc', agg: 'count' });
    expect(parseColumn('tags.`a``b`')).toEqual({ kind: 'tag', key: 'a`b' });
    expect(() => parseColumn('status')).toThrow(/unknown column 'status'/);
    expect(() => parseColumn('params.`x`.max')).toThrow(/invalid column/);
  });
});
