import { describe, expect, it } from 'vitest';
import { caretLine, filterErrorOf } from './filter-error.ts';

describe('filter errors', () => {
  it('reads data.filter (a 1-based column) from a tRPC error', () => {
    const err = { message: 'bad', data: { code: 'BAD_REQUEST', filter: { message: "expected a value after '>'", position: 21 } } };
    expect(filterErrorOf(err)).toEqual({ message: "expected a value after '>'", position: 20 });
  });

  it('reads a 0-based cause.position, and a 1-based column from the message', () => {
    expect(filterErrorOf({ message: 'filter syntax error', cause: { position: 3 } })?.position).toBe(3);
    expect(filterErrorOf({ message: "filter syntax error at column 5: unexpected ')'", data: { code: 'BAD_REQUEST' } })).toEqual({
      message: "filter syntax error at column 5: unexpected ')'",
      position: 4,
    });
  });

  it('ignores errors that are not about the filter', () => {
    expect(filterErrorOf({ message: 'store unreachable', data: { code: 'INTERNAL_SERVER_ERROR' } })).toBeNull();
    expect(filterErrorOf(null)).toBeNull();
  });

  it('draws a caret under the position', () => {
    expect(caretLine('metrics.acc > ', 14)).toBe('              ^');
    expect(caretLine('ab', 99)).toBe('  ^');
    expect(caretLine('\tx', 1)).toBe('\t^');
  });
});
