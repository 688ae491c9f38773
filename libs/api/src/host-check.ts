import { hostAllowed, hostNotAllowedMessage } from '@cairn/schema';
import { json } from './responses.ts';

/**
 * The Host allow-list of a server without accounts (local mode): see @cairn/schema's
 * allowed-hosts.ts for why. `allowed` holds the names besides loopback names and IP
 * addresses (CAIRN_ALLOWED_HOSTS); null: no check (team mode, where a rebound page has
 * no session and so reads and writes nothing).
 */
export function refusedHost(req: Request, path: string, allowed: readonly string[] | null, trpcEndpoint: string): Response | null {
  if (allowed === null) return null;
  const host = req.headers.get('host');
  if (hostAllowed(host, allowed)) return null;
  const message = hostNotAllowedMessage(host);
  // In tRPC's error shape (superjson-wrapped) where the portal's client reads it, so the page shows why.
  if (path === trpcEndpoint || path.startsWith(`${trpcEndpoint}/`)) {
    return json(403, { error: { json: { message, code: -32003, data: { code: 'FORBIDDEN', httpStatus: 403 } } } });
  }
  return json(403, { error: { code: 'HOST_NOT_ALLOWED', message } });
}
