import type { BenchContext, BenchResult } from './context.ts';
import type { BenchEngine } from './engines.ts';
export async function seriesBench(_e: BenchEngine, _c: BenchContext): Promise<BenchResult> { return { rows: [], notes: [] }; }
