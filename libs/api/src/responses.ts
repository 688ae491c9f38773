import type { BodyTooLargeError } from './body-limit.ts';

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body ?? null), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

/** 413, and the connection closed after it: the rest of the body is never read. */
export function tooLarge(e: BodyTooLargeError): Response {
  return json(413, { error: { code: e.code, message: e.message } }, { connection: 'close' });
}
