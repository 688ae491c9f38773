import { Param } from 'drizzle-orm';

/**
 * A float8[] parameter as PostgreSQL array text. The drivers format numbers with
 * String(), which turns -0 into "0"; metrics are stored faithfully, so -0, NaN and
 * ±Infinity are spelled out here. Bind it with a `::float8[]` cast.
 */
export function float8Array(values: readonly (number | null)[]): Param {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) s += ',';
    s += v === null || v === undefined ? 'NULL' : Object.is(v, -0) ? '-0' : String(v);
  }
  return new Param(`${s}}`);
}
