import type { Store } from '@cairn/store';
import type { Viewer } from '../access.ts';
import type { CairnAuth } from './create-auth.ts';
import { projectRoles } from './membership.ts';
import { findApiToken } from './tokens.ts';

/** Nobody signed in (team mode): no roles, so every project-scoped object is not found. */
export const ANONYMOUS: Viewer = Object.freeze({ mode: 'team', userId: '', roles: new Map() });

export function isSignedIn(viewer: Viewer): viewer is Extract<Viewer, { mode: 'team' }> {
  return viewer.mode === 'team' && viewer.userId !== '';
}

/** How a request identified itself: a session, an API token, a token that is not (or no longer) valid, or nothing. */
export type Credentials =
  | { kind: 'session' | 'token'; viewer: Extract<Viewer, { mode: 'team' }> }
  | { kind: 'invalid-token' }
  | { kind: 'none' };

function bearer(req: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get('authorization') ?? '');
  return m ? m[1]! : null;
}

/**
 * Who sends `req`: `Authorization: Bearer <API token>` (CLI, tracking client, workers)
 * or better-auth's session cookie (the portal). A bearer header wins and is never
 * passed on to better-auth, so a bad token is refused rather than ignored. Roles are
 * every project of the user's teams (of the token's team only, when it has one).
 */
export async function credentialsOf(auth: CairnAuth, store: Store, req: Request): Promise<Credentials> {
  const token = bearer(req);
  if (token !== null) {
    const found = await findApiToken(store, token);
    if (!found) return { kind: 'invalid-token' };
    return { kind: 'token', viewer: { mode: 'team', userId: found.userId, roles: await projectRoles(store, found.userId, found.teamId) } };
  }
  const session = await auth.getSession(req.headers);
  if (!session) return { kind: 'none' };
  return { kind: 'session', viewer: { mode: 'team', userId: session.user.id, roles: await projectRoles(store, session.user.id) } };
}

/** The viewer for `req`: the signed-in user, or null without valid credentials. */
export async function viewerFromRequest(auth: CairnAuth, store: Store, req: Request): Promise<Extract<Viewer, { mode: 'team' }> | null> {
  const c = await credentialsOf(auth, store, req);
  return c.kind === 'session' || c.kind === 'token' ? c.viewer : null;
}
