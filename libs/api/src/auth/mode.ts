import type { CairnConfig } from '@cairn/config';
import { ValidationError } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { LOCAL_VIEWER, type Viewer } from '../access.ts';
import { createApiHandler, type ApiHandlerOptions } from '../handler.ts';
import { MIN_SECRET_LENGTH, createAuth, type CairnAuth, type CreateAuthOptions } from './create-auth.ts';
import { ANONYMOUS, credentialsOf } from './viewer.ts';

/**
 * How the API decides who may do what: one local user, or team accounts (better-auth).
 * Local mode answers only requests addressed to this machine (localhost, an IP address)
 * or to `allowedHosts` (createApiHandler's option of that name).
 */
export type ApiAccess = { mode: 'local'; auth: null; allowedHosts: readonly string[] } | { mode: 'team'; auth: CairnAuth };

export const LOCAL_ACCESS: ApiAccess = { mode: 'local', auth: null, allowedHosts: [] };

/** The access settings an app read from its environment (@cairn/config: CAIRN_AUTH, CAIRN_AUTH_*, CAIRN_ALLOWED_HOSTS). */
export type AccessSettings = Pick<CairnConfig, 'authMode' | 'authSecret' | 'authUrl' | 'authTrustedOrigins' | 'allowedHosts'>;

/**
 * The server's mode, from the settings its app read: team mode when CAIRN_AUTH=team,
 * which needs CAIRN_AUTH_SECRET (at least 32 characters; it signs session cookies) and
 * takes CAIRN_AUTH_URL (the portal's public URL, else each request's own origin: its
 * scheme and Host header, see createAuth) and CAIRN_AUTH_TRUSTED_ORIGINS (for a portal
 * reached under several origins). Local mode when CAIRN_AUTH is unset or `local`,
 * answering the Host names in CAIRN_ALLOWED_HOSTS besides localhost and IP addresses.
 * readConfig has already refused any other mode (rather than a silent fall back to
 * local mode, where everything is allowed) and a bad host entry.
 */
export function apiAccessFor(store: Store, settings: AccessSettings): ApiAccess {
  if (settings.authMode === 'local') return { mode: 'local', auth: null, allowedHosts: settings.allowedHosts ?? [] };
  const secret = settings.authSecret ?? '';
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ValidationError(
      `CAIRN_AUTH=team needs CAIRN_AUTH_SECRET of at least ${MIN_SECRET_LENGTH} characters (${secret ? `it has ${secret.length}` : 'it is not set'}); generate one with \`openssl rand -hex 32\` and keep it: changing it signs everyone out`,
    );
  }
  return { mode: 'team', auth: createAuth({ store, secret, baseURL: settings.authUrl, trustedOrigins: settings.authTrustedOrigins }) };
}

/**
 * The viewer for a server-side call (a React server component's `headers()`): local
 * mode's one user, or the session's / token's user in team mode (nobody: no roles).
 */
export async function viewerForHeaders(access: ApiAccess, store: Store, headers: Headers): Promise<Viewer> {
  if (access.mode === 'local') return LOCAL_VIEWER;
  const c = await credentialsOf(access.auth, store, new Request('http://cairn.invalid/', { headers }));
  return c.kind === 'session' || c.kind === 'token' ? c.viewer : ANONYMOUS;
}

export interface TeamApiOptions extends Omit<ApiHandlerOptions, 'auth' | 'viewer' | 'authorizeIngest'>, Omit<CreateAuthOptions, 'store'> {}

/** Team mode in one call: better-auth over the store, and the API handler serving it with tRPC and ingest. */
export function createTeamApi(options: TeamApiOptions): { auth: CairnAuth; handler: (req: Request) => Promise<Response> } {
  const { secret, baseURL, trustedOrigins, ...handlerOptions } = options;
  const auth = createAuth({ store: options.store, secret, baseURL, trustedOrigins });
  return { auth, handler: createApiHandler({ ...handlerOptions, auth }) };
}
