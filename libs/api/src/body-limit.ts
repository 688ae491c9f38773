import { readRequestBody, withRequestBody } from '@cairn/http';
import { ValidationError } from '@cairn/schema';

/**
 * Request body limits, enforced before anything else looks at a request (so before
 * sign-in is checked too): a body is read chunk by chunk and refused with 413 as soon
 * as it passes its limit, whether it declared a content-length or came chunked.
 *
 * - tRPC: 8 MiB. The largest input is a note (`runs.addNote`, `experiments.addNote`),
 *   at most 1 MiB of UTF-8; as JSON a note of control characters takes up to six bytes
 *   a byte (`\u0001`), so 8 MiB holds the largest note with superjson's envelope.
 * - better-auth (/api/auth): 64 KiB; its requests carry a name, an email, a password.
 * - ingest: 16 MiB (a metrics batch of 10,000 points is about 1 MiB), as the tracking
 *   lib's own listener.
 */
export const MAX_TRPC_BODY_BYTES = 8 * 1024 * 1024;
export const MAX_AUTH_BODY_BYTES = 64 * 1024;
export const MAX_INGEST_BODY_BYTES = 16 * 1024 * 1024;

/** A body past its limit: INVALID_INPUT, answered with HTTP 413. */
export class BodyTooLargeError extends ValidationError {
  readonly status = 413;
  constructor(
    readonly limit: number,
    hint: string,
  ) {
    super(`request body exceeds ${limit} bytes; ${hint}`);
  }
}

/** The body's bytes (null without one), read within `limit`; past it, a BodyTooLargeError. */
export function readBodyWithin(req: Request, limit: number, hint: string): Promise<Uint8Array<ArrayBuffer> | null> {
  return readRequestBody(req, limit, () => new BodyTooLargeError(limit, hint));
}

/** The same request with its body read within `limit` (GET and HEAD have none). */
export function withBodyWithin(req: Request, limit: number, hint: string, url: string = req.url): Promise<Request> {
  return withRequestBody(req, limit, () => new BodyTooLargeError(limit, hint), url);
}
