/**
 * Turning metric series into uPlot's column data: one shared x array (steps) and
 * one y array per series, with null where a series has no point at that step.
 */

export interface Series {
  steps: number[];
  values: number[];
}

export type AlignedData = [number[], ...(number | null)[][]];

export function alignSeries(list: ReadonlyArray<Series | undefined>): AlignedData {
  if (list.length === 1 && list[0]) {
    const s = list[0];
    return [s.steps.slice(), s.values.map(clean)];
  }
  const xs = new Set<number>();
  for (const s of list) if (s) for (const x of s.steps) xs.add(x);
  const steps = [...xs].sort((a, b) => a - b);
  const index = new Map(steps.map((x, i) => [x, i]));
  const ys = list.map((s) => {
    const y: (number | null)[] = new Array(steps.length).fill(null);
    if (s) for (let i = 0; i < s.steps.length; i++) y[index.get(s.steps[i]!)!] = clean(s.values[i]!);
    return y;
  });
  return [steps, ...ys];
}

/** uPlot draws nothing sensible for NaN/Infinity: they become gaps. */
function clean(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Keys that hold system metrics (CPU, memory, GPU, throughput…) rather than model metrics: the API's rule. */
export { isSystemMetric } from '@cairn/api/metric-keys';

/** A colour per series index, distinct for the first dozen and stable after. */
export function seriesColor(i: number): string {
  const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#4f46e5', '#0d9488', '#9333ea'];
  if (i < palette.length) return palette[i]!;
  const hue = (i * 137.508) % 360;
  return `hsl(${hue.toFixed(0)} 65% 45%)`;
}
