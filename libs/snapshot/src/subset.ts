import { hashBytes } from './hash.ts';

/*
 * Deterministic subsets: a record is in the subset at `fraction` when
 *
 *   u = int(first 13 hex digits of BLAKE3(utf8(salt + recordId))) / 2^52   (so u ∈ [0, 1))
 *   u < fraction
 *
 * Membership depends on the record's id and the salt alone, so the same records are chosen
 * on every run while the data does not change, a record keeps its membership when others
 * are added or removed, and the subset at a smaller fraction is contained in the one at a
 * larger fraction. Change the salt for an independent draw. Other implementations (Python
 * loaders) reproduce it from the formula above; 52 bits keep u exact in a double.
 */

const TWO_52 = 2 ** 52;

function checkFraction(fraction: number): void {
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(`subset fraction must be a number from 0 to 1, got ${String(fraction)}`);
  }
}

/** The record's position in [0, 1): the value compared against the fraction. */
export function subsetPosition(recordId: string, salt = ''): number {
  return parseInt(hashBytes(Buffer.from(salt + recordId, 'utf8')).slice(0, 13), 16) / TWO_52;
}

/** Whether the record is in the subset at `fraction` (0 selects nothing, 1 everything). */
export function inSubset(recordId: string, fraction: number, salt = ''): boolean {
  checkFraction(fraction);
  if (fraction === 0) return false;
  if (fraction === 1) return true;
  return subsetPosition(recordId, salt) < fraction;
}

/** The rows whose id (by `idOf`) is in the subset, in their original order. */
export function subsetRows<T>(rows: Iterable<T>, idOf: (row: T) => string, fraction: number, salt = ''): T[] {
  checkFraction(fraction);
  const out: T[] = [];
  if (fraction === 0) return out;
  for (const row of rows) if (fraction === 1 || subsetPosition(idOf(row), salt) < fraction) out.push(row);
  return out;
}
