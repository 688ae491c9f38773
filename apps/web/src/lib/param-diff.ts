/**
 * The param table of a comparison: one row per param key, one cell per run. A row
 * "differs" when the runs do not all have the same value (a missing value counts as
 * different); within such a row, the cells that disagree with the most common value
 * are the ones highlighted, or every cell when no value is more common than the others.
 */

export type ParamValue = string | number | boolean;

export interface DiffCell {
  value: ParamValue | undefined;
  /** This cell differs from the row's most common value. */
  highlight: boolean;
}

export interface DiffRow {
  key: string;
  differs: boolean;
  cells: DiffCell[];
}

export function sameValue(a: ParamValue | undefined, b: ParamValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  // '0.1' from one run and 0.1 from another are the same param value.
  return String(a) === String(b);
}

export function diffParams(runs: ReadonlyArray<{ params: Record<string, ParamValue> }>): DiffRow[] {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.params)) keys.add(k);
  const rows: DiffRow[] = [];
  for (const key of keys) {
    const values = runs.map((r) => r.params[key]);
    const counts = new Map<string, number>();
    for (const v of values) {
      const k = v === undefined ? '\u0000missing' : String(v);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    let mode: string | null = null;
    let best = -1;
    for (const [k, n] of counts) {
      if (n > best) {
        best = n;
        mode = k;
      } else if (n === best) {
        mode = null; // a tie: no value stands for "the usual one"
      }
    }
    const differs = counts.size > 1;
    rows.push({
      key,
      differs,
      cells: values.map((value) => ({
        value,
        highlight: differs && (mode === null || (value === undefined ? '\u0000missing' : String(value)) !== mode),
      })),
    });
  }
  rows.sort((a, b) => Number(b.differs) - Number(a.differs) || a.key.localeCompare(b.key));
  return rows;
}
