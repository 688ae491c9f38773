import { HttpError } from './http-error.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder();

/**
 * A body that must be a JSON document: invalid UTF-8, an empty (or blank) body and bad
 * JSON are each a 400 `INVALID_JSON` saying which. The model server's reading.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the body is not valid UTF-8');
  }
  if (text.trim() === '') throw new HttpError(400, 'INVALID_JSON', 'the body is empty; send a JSON object such as { "rows": [...] }');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, 'INVALID_JSON', `the body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

/**
 * A body that may be absent: no bytes is `undefined` (the caller's schema then says what
 * is missing), anything else is parsed, and a parse failure is `invalid(parser's message)`
 * so each protocol keeps its own error type. The ingest endpoints' reading.
 */
export function parseOptionalJsonBody(bytes: Uint8Array | null, invalid: (detail: string) => Error): unknown {
  if (!bytes || bytes.byteLength === 0) return undefined;
  try {
    return JSON.parse(lenientUtf8.decode(bytes));
  } catch (e) {
    throw invalid((e as Error).message);
  }
}
