/**
 * Which metric keys are system metrics (CPU, memory, GPU, throughput…) rather than the
 * model's, and the order charts list them in. No imports: the portal's browser code
 * uses this file too (`@cairn/api/metric-keys`).
 */
export function isSystemMetric(key: string): boolean {
  return /^(system|sys|gpu|cpu|mem|memory|process)[/._]/i.test(key);
}

/** The model's metrics first, then system metrics, each alphabetically. */
export function chartOrder(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort((a, b) => Number(isSystemMetric(a)) - Number(isSystemMetric(b)) || a.localeCompare(b));
}
