import { FilterSyntaxError } from '@cairn/schema';

/**
 * Splits filter text into tokens. A field such as ``metrics.`val acc`.max`` is
 * one `path` token made of bare and backtick-quoted pieces written without
 * spaces between them; the parser decides what the pieces mean.
 */

export const KEYWORDS = ['AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE', 'IS', 'NULL', 'TRUE', 'FALSE', 'ASC', 'DESC'] as const;
export type Keyword = (typeof KEYWORDS)[number];

export interface PathPiece {
  text: string;
  quoted: boolean;
}

export type Token = { start: number; end: number } & (
  | { kind: 'path'; pieces: PathPiece[] }
  | { kind: 'keyword'; keyword: Keyword }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'punct'; value: '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | '(' | ')' | ',' }
  | { kind: 'eof' }
);

/** Characters a key may use without backticks. */
export const BARE_CHAR = /[A-Za-z0-9_./:-]/;
const PATH_START = /[A-Za-z_]/;
// Sticky, so it matches exactly at `lastIndex`. Kept to plain decimal notation:
// no hex, no `Infinity`, no digit separators.
const NUMBER = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const PUNCT = ['<=', '>=', '!=', '<>', '=', '<', '>', '(', ')', ','] as const;

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  const fail = (detail: string, index: number): never => {
    throw new FilterSyntaxError(detail, index + 1, input);
  };
  // PostgreSQL text cannot hold NUL, so no stored key or value contains one; refusing
  // it here keeps it from reaching the database as a bind error.
  const nul = input.indexOf('\0');
  if (nul >= 0) fail('the filter must not contain NUL characters', nul);
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;

    if (c === "'" || c === '"') {
      const { value, end } = readQuoted(input, i, c, true) ?? fail('unterminated string', start);
      tokens.push({ kind: 'string', value, start, end });
      i = end;
      continue;
    }

    if (PATH_START.test(c) || c === '`') {
      const pieces: PathPiece[] = [];
      while (i < input.length) {
        if (input[i] === '`') {
          const q = readQuoted(input, i, '`', false) ?? fail('unterminated backtick-quoted key', i);
          pieces.push({ text: q.value, quoted: true });
          i = q.end;
        } else if (BARE_CHAR.test(input[i]!)) {
          let j = i;
          while (j < input.length && BARE_CHAR.test(input[j]!)) j++;
          pieces.push({ text: input.slice(i, j), quoted: false });
          i = j;
        } else break;
      }
      const only = pieces.length === 1 && !pieces[0]!.quoted ? pieces[0]!.text.toUpperCase() : null;
      if (only !== null && (KEYWORDS as readonly string[]).includes(only)) {
        tokens.push({ kind: 'keyword', keyword: only as Keyword, start, end: i });
      } else {
        tokens.push({ kind: 'path', pieces, start, end: i });
      }
      continue;
    }

    NUMBER.lastIndex = i;
    const num = NUMBER.exec(input);
    if (num) {
      const end = i + num[0].length;
      // `1abc`, `1.2.3`, `1e`: a number glued to more word characters is a typo, not two tokens.
      if (end < input.length && BARE_CHAR.test(input[end]!)) fail(`invalid number '${input.slice(i, end + 1)}'`, start);
      const value = Number(num[0]);
      if (!Number.isFinite(value)) fail(`number '${num[0]}' is out of range`, start);
      // -0 prints as "0"; normalizing here keeps print/parse an exact round trip.
      tokens.push({ kind: 'number', value: value === 0 ? 0 : value, start, end });
      i = end;
      continue;
    }

    const punct = PUNCT.find((p) => input.startsWith(p, i));
    if (punct) {
      tokens.push({ kind: 'punct', value: punct, start, end: i + punct.length });
      i += punct.length;
      continue;
    }
    fail(c === '!' ? "unexpected '!' (did you mean '!='?)" : `unexpected character '${c}'`, start);
  }
  tokens.push({ kind: 'eof', start: input.length, end: input.length });
  return tokens;
}

/**
 * Reads a quoted run starting at `open`. The quote is escaped by doubling it; in
 * strings a backslash also escapes a quote or a backslash. Any other backslash is
 * kept as written, so a LIKE pattern such as 'a\_b' keeps its LIKE escape.
 * Returns null when the closing quote is missing.
 */
function readQuoted(
  input: string,
  open: number,
  quote: string,
  backslashEscapes: boolean,
): { value: string; end: number } | null {
  let value = '';
  let i = open + 1;
  while (i < input.length) {
    const c = input[i]!;
    if (c === quote) {
      if (input[i + 1] === quote) {
        value += quote;
        i += 2;
        continue;
      }
      return { value, end: i + 1 };
    }
    if (backslashEscapes && c === '\\') {
      const next = input[i + 1];
      if (next === "'" || next === '"' || next === '\\') {
        value += next;
        i += 2;
        continue;
      }
    }
    value += c;
    i++;
  }
  return null;
}

/** How a token is shown in error messages. */
export function describeToken(token: Token, input: string): string {
  return token.kind === 'eof' ? 'the end of the filter' : `'${input.slice(token.start, token.end)}'`;
}
