import { describe, expect, it } from 'vitest';
import { checkJsonContentType, isJsonContentType } from './content-type.ts';

describe('isJsonContentType', () => {
  it('looks at the media type only', () => {
    expect(isJsonContentType('Application/JSON; charset=latin1')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType(null)).toBe(false);
  });
});

describe('checkJsonContentType', () => {
  it('takes application/json with a UTF-8 charset or none', () => {
    expect(() => checkJsonContentType('application/json')).not.toThrow();
    expect(() => checkJsonContentType('application/json; charset="UTF-8"')).not.toThrow();
  });

  it.each([undefined, 'text/plain', 'application/json; charset=latin1'])('refuses %s with a 415', (header) => {
    expect(() => checkJsonContentType(header)).toThrow(expect.objectContaining({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }));
  });
});
