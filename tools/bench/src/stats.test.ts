import { describe, expect, it } from 'vitest';
import { formatCount, formatInt, formatMs, formatRate, formatRatio, median, p95, percentile, summarize } from './stats.ts';
import { formatRows, passes, type ResultRow } from './report.ts';

describe('median', () => {
  it('takes the middle sample of an odd count, unsorted input', () => {
    expect(median([5, 1, 3])).toBe(3);
  });
  it('averages the two middle samples of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
  it('refuses no samples and NaN', () => {
    expect(() => median([])).toThrow(RangeError);
    expect(() => median([1, NaN])).toThrow(RangeError);
  });
});

describe('percentile (nearest rank)', () => {
  const thirty = Array.from({ length: 30 }, (_, i) => 30 - i); // 30..1
  it('p95 of 30 samples is the 29th smallest', () => {
    expect(p95(thirty)).toBe(29);
  });
  it('p95 of 20 samples is the 19th smallest, of 100 the 95th', () => {
    expect(p95(Array.from({ length: 20 }, (_, i) => i + 1))).toBe(19);
    expect(p95(Array.from({ length: 100 }, (_, i) => i + 1))).toBe(95);
  });
  it('p0 is the minimum, p100 the maximum, p50 an observed sample', () => {
    expect(percentile(thirty, 0)).toBe(1);
    expect(percentile(thirty, 100)).toBe(30);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
  });
  it('a single sample is every percentile', () => {
    expect(p95([7])).toBe(7);
  });
  it('rejects a percentile outside 0..100', () => {
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], -1)).toThrow(RangeError);
  });
  it('summarize agrees with the helpers', () => {
    expect(summarize([3, 1, 2, 10])).toEqual({ n: 4, min: 1, median: 2.5, p95: 10, max: 10 });
  });
});

describe('formatting', () => {
  it('groups thousands', () => {
    expect(formatInt(1234567)).toBe('1,234,567');
    expect(formatInt(-1000)).toBe('-1,000');
    expect(formatInt(999.6)).toBe('1,000');
  });
  it('formats rates with k and M', () => {
    expect(formatRate(312_400)).toBe('312.4k pts/s');
    expect(formatRate(1_250_000)).toBe('1.25M pts/s');
    expect(formatRate(950, 'q/s')).toBe('950 q/s');
  });
  it('formats durations', () => {
    expect(formatMs(0.421)).toBe('0.42 ms');
    expect(formatMs(12.34)).toBe('12.3 ms');
    expect(formatMs(1250.4)).toBe('1,250 ms');
  });
  it('formats ratios', () => {
    expect(formatRatio(0.523)).toBe('0.52×');
    expect(formatRatio(12.4)).toBe('12×');
    expect(formatRatio(0.0042)).toBe('0.0042×');
  });
  it('formats workload counts', () => {
    expect(formatCount(1_000_000)).toBe('1M');
    expect(formatCount(200_000)).toBe('200k');
    expect(formatCount(1_234_567)).toBe('1,234,567');
  });
});

describe('report rows', () => {
  const row = (value: number, op: '>=' | '<='): ResultRow => ({
    bench: 'b', engine: 'pglite', case: 'c', value, unit: 'ms', stat: 'median of 3', target: { op, value: 100 },
  });
  it('pass/fail follows the target direction, inclusive', () => {
    expect(passes(row(100, '<='))).toBe(true);
    expect(passes(row(101, '<='))).toBe(false);
    expect(passes(row(100, '>='))).toBe(true);
    expect(passes(row(99, '>='))).toBe(false);
    expect(passes({ ...row(1, '<='), target: undefined })).toBeUndefined();
  });
  it('prints figure, target, ratio and verdict', () => {
    const text = formatRows([{ ...row(42, '<='), ratios: [{ vs: 'baseline', value: 0.5 }] }]);
    expect(text).toContain('42.0 ms');
    expect(text).toContain('≤ 100 ms');
    expect(text).toContain('0.50× baseline');
    expect(text).toContain('PASS');
  });
});
