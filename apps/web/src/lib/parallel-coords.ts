/**
 * Axes for the compare page's parallel coordinates: a numeric axis when every
 * value of a key is a number (or a numeric string), otherwise a categorical axis
 * over its distinct values. `position` maps a value to 0 (bottom) … 1 (top).
 */

export type AxisValue = string | number | boolean | null | undefined;

export type Axis =
  | { key: string; kind: 'number'; min: number; max: number }
  | { key: string; kind: 'category'; values: string[] };

function asNumber(v: AxisValue): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

export function buildAxis(key: string, values: readonly AxisValue[]): Axis | null {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (!present.length) return null;
  const nums = present.map(asNumber);
  if (nums.every((n) => n !== null)) {
    const ns = nums as number[];
    return { key, kind: 'number', min: Math.min(...ns), max: Math.max(...ns) };
  }
  const distinct = [...new Set(present.map((v) => String(v)))].sort();
  return { key, kind: 'category', values: distinct };
}

/** 0..1, or null when the value is missing (the line skips the axis). */
export function position(axis: Axis, v: AxisValue): number | null {
  if (v === null || v === undefined) return null;
  if (axis.kind === 'number') {
    const n = asNumber(v);
    if (n === null) return null;
    return axis.max === axis.min ? 0.5 : (n - axis.min) / (axis.max - axis.min);
  }
  const i = axis.values.indexOf(String(v));
  if (i < 0) return null;
  return axis.values.length === 1 ? 0.5 : i / (axis.values.length - 1);
}

/** Tick labels of an axis: min/max for numbers, every value for a category (up to 8). */
export function ticks(axis: Axis): { at: number; label: string }[] {
  if (axis.kind === 'number') {
    if (axis.min === axis.max) return [{ at: 0.5, label: String(axis.min) }];
    return [
      { at: 0, label: String(Number(axis.min.toPrecision(4))) },
      { at: 1, label: String(Number(axis.max.toPrecision(4))) },
    ];
  }
  const step = Math.ceil(axis.values.length / 8);
  return axis.values
    .map((label, i) => ({ at: axis.values.length === 1 ? 0.5 : i / (axis.values.length - 1), label }))
    .filter((_, i) => i % step === 0);
}
