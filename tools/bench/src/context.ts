import type { ResultRow } from './report.ts';

/** What a benchmark returns for one engine. */
export interface BenchResult {
  rows: ResultRow[];
  /** Findings printed under the table (checks, plans, caveats). */
  notes: string[];
}

/** What main hands every benchmark. */
export interface BenchContext {
  /** Smaller workloads for a smoke test; figures are then not comparable with the targets. */
  quick: boolean;
  /** Print EXPLAIN ANALYZE of the search queries. */
  explain: boolean;
}

/** Progress goes to stderr, so stdout holds the headers, tables and findings only. */
export function progress(text: string): void {
  process.stderr.write(`  … ${text}\n`);
}

/** A small deterministic PRNG (mulberry32), so every run generates the same workload. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
