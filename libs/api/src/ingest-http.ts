import { parseOptionalJsonBody } from '@cairn/http';
import { ValidationError } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { executeIngestCall, ingestErrorAnswer, isJsonContentType, matchIngestRoute, parseIngestCall, type IngestIdentity } from '@cairn/tracking';
import { authorOf, type Viewer } from './access.ts';
import type { CairnAuth } from './auth/create-auth.ts';
import { checkIngest } from './auth/ingest-access.ts';
import { credentialsOf } from './auth/viewer.ts';
import { BodyTooLargeError, readBodyWithin } from './body-limit.ts';
import { json, tooLarge } from './responses.ts';

export interface IngestServing {
  store: Store;
  auth: CairnAuth | null;
  viewer?: (req: Request) => Viewer | Promise<Viewer>;
  authorizeIngest?: (req: Request) => boolean | Promise<boolean>;
  maxBytes: number;
  onError?: (error: unknown, where: { path: string }) => void;
}

const notJson = (detail: string) => new ValidationError(`request body is not valid JSON (${detail})`);

const NOT_JSON = { error: { code: 'INVALID_INPUT', message: 'a tracking request must be sent as application/json' } };

const unauthorized = (why: string) => json(401, { error: { code: 'INVALID_INPUT', message: `this Cairn server refused the tracking request: ${why}` } });

/**
 * Who may write, and as whom: `viewer` null means no per-project check (local mode, or
 * a custom `authorizeIngest` that said yes); a Response is the refusal to send.
 */
async function writer(s: IngestServing, req: Request): Promise<{ viewer: Viewer | null; identity: IngestIdentity } | Response> {
  if (s.authorizeIngest) return (await s.authorizeIngest(req)) ? { viewer: null, identity: {} } : unauthorized('it needs a token (CAIRN_TOKEN)');
  if (s.viewer) return unauthorized('it needs a token (CAIRN_TOKEN)');
  if (!s.auth) return { viewer: null, identity: {} };
  const c = await credentialsOf(s.auth, s.store, req);
  if (c.kind === 'invalid-token') return unauthorized('its token is not valid (unknown or revoked); set CAIRN_TOKEN to a live one');
  if (c.kind === 'none') return unauthorized('it needs a token (CAIRN_TOKEN)');
  return { viewer: c.viewer, identity: { author: authorOf(c.viewer) } };
}

/**
 * One ingest request: its route matched once (before anything else), then who asks,
 * the body read within its limit and validated into a call, access checked on that
 * call, and that same call executed. Never a 500 for a request's own faults.
 */
export async function serveIngest(s: IngestServing, req: Request, path: string): Promise<Response> {
  const match = matchIngestRoute(req.method, path);
  if (!match.ok) return json(match.answer.status, match.answer.body);
  const route = match.route;
  const where = { method: req.method, path };
  const log = { onInternalError: (e: unknown) => s.onError?.(e, { path }) };
  try {
    if (route.op === 'health') {
      const answer = await executeIngestCall(s.store, route);
      return json(answer.status, answer.body);
    }
    const who = await writer(s, req);
    if (who instanceof Response) return who;
    // No cross-site form can send JSON, so no page can write with its visitor's cookies.
    if (!isJsonContentType(req.headers.get('content-type'))) return json(415, NOT_JSON);
    const call = parseIngestCall(route, parseOptionalJsonBody(await readBodyWithin(req, s.maxBytes, 'send smaller metric batches'), notJson));
    if (who.viewer) await checkIngest(s.store, who.viewer, call);
    const answer = await executeIngestCall(s.store, call, who.identity);
    return json(answer.status, answer.body);
  } catch (e) {
    if (e instanceof BodyTooLargeError) return tooLarge(e);
    const answer = ingestErrorAnswer(e, where, log);
    return json(answer.status, answer.body);
  }
}
