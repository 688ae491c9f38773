/**
 * Largest-Triangle-Three-Buckets (Steinarsson, 2013): keeps the points that carry
 * the shape of a series, so spikes survive downsampling to a few thousand points.
 * Input must be sorted by x. NaN values are kept as they are but never chosen over
 * a finite point of their bucket.
 */
export function lttb<T>(points: readonly T[], threshold: number, x: (p: T) => number, y: (p: T) => number): T[] {
  const n = points.length;
  if (threshold >= n || threshold <= 2) return threshold <= 2 && n > 2 ? [points[0]!, points[n - 1]!] : points.slice();
  const out: T[] = [points[0]!];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // Average of the next bucket: the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    let m = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      const yj = y(points[j]!);
      if (!Number.isFinite(yj)) continue;
      avgX += x(points[j]!);
      avgY += yj;
      m++;
    }
    if (m > 0) {
      avgX /= m;
      avgY /= m;
    } else {
      avgX = x(points[Math.min(nextStart, n - 1)]!);
      avgY = 0;
    }
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const ax = x(points[a]!);
    const ay = Number.isFinite(y(points[a]!)) ? y(points[a]!) : 0;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const yj = y(points[j]!);
      const area = Number.isFinite(yj) ? Math.abs((ax - avgX) * (yj - ay) - (ax - x(points[j]!)) * (avgY - ay)) : -0.5;
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push(points[best]!);
    a = best;
  }
  out.push(points[n - 1]!);
  return out;
}
