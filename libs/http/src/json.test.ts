import { describe, expect, it } from 'vitest';
import { HttpError } from './http-error.ts';
import { parseJsonBody, parseOptionalJsonBody } from './json.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('parseJsonBody', () => {
  it('parses a JSON document', () => {
    expect(parseJsonBody(bytes('{"rows":[1]}'))).toEqual({ rows: [1] });
  });

  it.each([
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'the body is not valid UTF-8'],
    ['a blank body', bytes('  \n'), 'the body is empty'],
    ['bad JSON', bytes('{"rows":'), 'the body is not valid JSON'],
  ])('refuses %s with a 400 INVALID_JSON', (_, body, message) => {
    let caught: unknown;
    try {
      parseJsonBody(body);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(HttpError);
    expect(caught).toMatchObject({ status: 400, code: 'INVALID_JSON' });
    expect((caught as Error).message).toContain(message);
  });
});

describe('parseOptionalJsonBody', () => {
  const invalid = (detail: string) => new Error(`bad: ${detail}`);

  it('reads no body as undefined', () => {
    expect(parseOptionalJsonBody(null, invalid)).toBeUndefined();
    expect(parseOptionalJsonBody(new Uint8Array(0), invalid)).toBeUndefined();
  });

  it("answers bad JSON with the caller's error, carrying the parser's message", () => {
    expect(() => parseOptionalJsonBody(bytes('{'), invalid)).toThrow(/^bad: .*JSON/);
  });
});
