/**
 * Small statistics and formatting helpers for the benchmarks. Every figure the
 * benchmarks print is a median or a percentile of several timed samples, never a
 * single run: the machines they run on are shared and noisy.
 */

function sorted(xs: readonly number[]): number[] {
  if (xs.length === 0) throw new RangeError('no samples');
  if (xs.some((x) => Number.isNaN(x))) throw new RangeError('a sample is NaN');
  return [...xs].sort((a, b) => a - b);
}

/** The middle sample, or the mean of the two middle samples for an even count. */
export function median(xs: readonly number[]): number {
  const s = sorted(xs);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Nearest-rank percentile (`p` in 0..100): the smallest sample that at least p%
 * of the samples are less than or equal to. Always an observed sample, so a p95
 * over 30 samples is the 29th smallest, the second largest.
 */
export function percentile(xs: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be from 0 to 100, got ${p}`);
  const s = sorted(xs);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

export function p95(xs: readonly number[]): number {
  return percentile(xs, 95);
}

export interface Summary {
  n: number;
  min: number;
  median: number;
  p95: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary {
  const s = sorted(xs);
  return { n: s.length, min: s[0]!, median: median(s), p95: p95(s), max: s[s.length - 1]! };
}

/** Runs `fn` and returns how long it took, in milliseconds. */
export async function timeMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** 1234567 → "1,234,567" (no locale surprises). */
export function formatInt(n: number): string {
  const s = Math.round(Math.abs(n)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${s}` : s;
}

/** A count in words of a workload: 1000000 → "1M", 200000 → "200k", 950 → "950". */
export function formatCount(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return formatInt(n);
}

/** A throughput: "312.4k pts/s", "1.25M pts/s", "950 pts/s". */
export function formatRate(perSecond: number, unit = 'pts/s'): string {
  const a = Math.abs(perSecond);
  if (a >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M ${unit}`;
  if (a >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k ${unit}`;
  return `${perSecond.toFixed(0)} ${unit}`;
}

/** A duration: "0.42 ms", "12.3 ms", "1,250 ms". */
export function formatMs(ms: number): string {
  const a = Math.abs(ms);
  if (a < 1) return `${ms.toFixed(2)} ms`;
  if (a < 100) return `${ms.toFixed(1)} ms`;
  return `${formatInt(ms)} ms`;
}

/** A ratio: "0.52×", "3.1×", "0.004×". */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  const a = Math.abs(r);
  if (a >= 10) return `${r.toFixed(0)}×`;
  if (a >= 0.1) return `${r.toFixed(2)}×`;
  return `${r.toPrecision(2)}×`;
}
