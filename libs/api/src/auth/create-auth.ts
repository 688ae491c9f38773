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
  /** The portal's public URL (http://host:port); absent, better-auth takes it from each request. */
  baseURL?: string;
  /** Other origins allowed to post to /api/auth (the baseURL's origin always is). */
  trustedOrigins?: string[];
}

// better-auth model → the export of @cairn/schema that stores it (see auth-tables.ts).
const MODELS = { users, sessions, accounts, verifications, teams, teamMembers, teamInvitations };

/**
 * better-auth over the store's own database: email and password accounts (passwords
 * hashed and sessions kept by better-auth, never by Cairn), and the organization plugin
 * for teams and member roles. Telemetry is off: a Cairn server may have no network,
 * and nothing should leave it unasked.
 */
export function createAuth(options: CreateAuthOptions) {
  if (options.secret.length < MIN_SECRET_LENGTH) {
    throw new ValidationError(`the auth secret must be at least ${MIN_SECRET_LENGTH} characters (set CAIRN_AUTH_SECRET, e.g. to \`openssl rand -hex 32\`)`);
  }
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
    advanced: { cookiePrefix: 'cairn' },
    plugins: [
      organization({
        ac,
        roles: orgRoles,
        schema: { organization: { modelName: 'teams' }, member: { modelName: 'teamMembers' }, invitation: { modelName: 'teamInvitations' } },
      }),
    ],
  });
}

export type CairnAuth = ReturnType<typeof createAuth>;
