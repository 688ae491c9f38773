import { betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { organization } from 'better-auth/plugins';
import { accounts, sessions, teamInvitations, teamMembers, teams, users, verifications } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { ValidationError } from '@cairn/schema';
import { ac, orgRoles } from './roles.ts';

/** Where better-auth is served; the portal's catch-all /api route passes it through createApiHandler. */
export const AUTH_BASE_PATH = '/api/auth';

export const MIN_SECRET_LENGTH = 32;

export interface CreateAuthOptions {
  store: Store;
  /** Signs session cookies; at least 32 characters (CAIRN_AUTH_SECRET). */
  secret: string;
  /**
   * The portal's public URL (CAIRN_AUTH_URL, http(s)://host:port); its scheme decides the
   * cookies. Absent: each request's own origin (see CairnAuth.handler).
   */
  baseURL?: string;
  /** Other origins allowed to post to /api/auth (the baseURL's origin always is). */
  trustedOrigins?: string[];
}

// better-auth model → the export of @cairn/schema that stores it (see auth-tables.ts).
const MODELS = { users, sessions, accounts, verifications, teams, teamMembers, teamInvitations };

const SECURE_SESSION_COOKIE = '__Secure-cairn.session_token=';

/**
 * better-auth over the store's own database: email and password accounts (passwords
 * hashed and sessions kept by better-auth, never by Cairn), and the organization plugin
 * for teams and member roles. Telemetry is off: a Cairn server may have no network,
 * and nothing should leave it unasked. The origin check is on in every environment
 * (better-auth skips it under NODE_ENV=test), so tests see what production does.
 */
function betterAuthFor(options: CreateAuthOptions, secureCookies: boolean) {
  return betterAuth({
    appName: 'Cairn',
    secret: options.secret,
    baseURL: options.baseURL,
    basePath: AUTH_BASE_PATH,
    trustedOrigins: options.trustedOrigins,
    telemetry: { enabled: false },
    database: drizzleAdapter(options.store.drizzle(), { provider: 'pg', schema: MODELS }),
    user: { modelName: 'users' },
    session: { modelName: 'sessions' },
    account: { modelName: 'accounts' },
    verification: { modelName: 'verifications' },
    emailAndPassword: { enabled: true },
    advanced: { cookiePrefix: 'cairn', useSecureCookies: secureCookies, disableOriginCheck: false },
    plugins: [
      organization({
        ac,
        roles: orgRoles,
        schema: { organization: { modelName: 'teams' }, member: { modelName: 'teamMembers' }, invitation: { modelName: 'teamInvitations' } },
      }),
    ],
  });
}

type BetterAuthInstance = ReturnType<typeof betterAuthFor>;

export interface CairnAuth {
  /** better-auth's server API, for server-side calls (teams, members); cookies it returns are the http ones. */
  readonly api: BetterAuthInstance['api'];
  /**
   * Serves /api/auth/*. Without a configured baseURL the portal is wherever the request
   * says it is: its own origin (scheme, and the Host header) is the base URL and a
   * trusted origin. Cookies follow the scheme: `__Secure-` and Secure over https, plain
   * over http (with a baseURL, its scheme decides).
   */
  handler(req: Request): Promise<Response>;
  /** The session a request's cookies carry (set over http or https), or null. */
  getSession(headers: Headers): Promise<{ user: { id: string } } | null>;
}

/** Cairn's accounts: better-auth, served with cookies and origin that match each request. */
export function createAuth(options: CreateAuthOptions): CairnAuth {
  if (options.secret.length < MIN_SECRET_LENGTH) {
    throw new ValidationError(`the auth secret must be at least ${MIN_SECRET_LENGTH} characters (set CAIRN_AUTH_SECRET, e.g. to \`openssl rand -hex 32\`)`);
  }
  const plain = betterAuthFor(options, false);
  const secure = betterAuthFor(options, true);
  const fixedSecure = options.baseURL ? new URL(options.baseURL).protocol === 'https:' : null;
  return {
    api: plain.api,
    async handler(req) {
      if (fixedSecure !== null) return (fixedSecure ? secure : plain).handler(req);
      const url = atOwnOrigin(req);
      const instance = url.protocol === 'https:' ? secure : plain;
      if (url.href === req.url) return instance.handler(req);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      return instance.handler(new Request(url, { method: req.method, headers: req.headers, body, signal: req.signal }));
    },
    async getSession(headers) {
      const cookies = (headers.get('cookie') ?? '').split(';').map((c) => c.trim());
      const instance = cookies.some((c) => c.startsWith(SECURE_SESSION_COOKIE)) ? secure : plain;
      return instance.api.getSession({ headers });
    },
  };
}

// A host and port as a Host header may carry them: a name or IPv4 address, or an IPv6 literal.
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The request's URL at the origin the client addressed: the scheme the server saw
 * (a Next.js server builds request URLs from its own bind address, not from the Host
 * header) and the Host header's host. A browser always sends the Host it addressed and
 * cannot forge it, so "the request's own origin" is the page's origin exactly when the
 * page is served by this portal.
 */
function atOwnOrigin(req: Request): URL {
  const url = new URL(req.url);
  const host = req.headers.get('host');
  if (host && HOST_RE.test(host)) url.host = host;
  return url;
}
