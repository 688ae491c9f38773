/**
 * When a param counts as a number. A param is stored as text plus, when this
 * returns a number, a numeric copy (`params.value_num`); `params.lr < 0.01`
 * compares that copy, so params that are not numbers never match a numeric
 * comparison. The store must use this same function when it writes `value_num`,
 * or SQL and `evaluateFilter` would disagree.
 *
 * Plain decimal notation only (`3`, `-0.5`, `.5`, `1e-3`); no hex, no
 * whitespace, no `Infinity`/`NaN`, and values that overflow a double are text.
 */
export function paramValueNum(value: string): number | null {
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(value)) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}
