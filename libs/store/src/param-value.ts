import type { ParamValue } from './types.ts';

const PLAIN_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/**
 * Params are stored as text. A value whose text is exactly how JavaScript prints a
 * number (or true/false) goes out as that number (or boolean), so tables sort and
 * charts plot it; anything else ("0.10", "1e-3", "adam") stays the text it was.
 */
export function paramValue(text: string): ParamValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (PLAIN_NUMBER.test(text)) {
    const n = Number(text);
    if (Number.isFinite(n) && String(n) === text) return n;
  }
  return text;
}
