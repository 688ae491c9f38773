/**
 * When a param counts as a number. A param is stored as text plus, when this
 * returns a number, a numeric copy (`params.value_num`); `params.lr < 0.01`
 * compares that copy, so params that are not numbers never match a numeric
 * comparison. The store writes `value_num` with this same function, so SQL and
 * `evaluateFilter` agree.
 *
 * Plain decimal notation (`3`, `-0.5`, `.5`, `1e-3`), surrounding whitespace
 * ignored; no hex, no `Infinity`/`NaN`, and values that overflow a double are text.
 */
export function paramValueNum(value: string): number | null {
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(value.trim())) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}
