import { TRPCError } from '@trpc/server';
import type { Viewer } from '../access.ts';
import type { Context } from '../context.ts';
import type { CairnAuth } from './create-auth.ts';
import { isSignedIn } from './viewer.ts';

const TEAM_MODE_OFF = 'this Cairn server runs in local mode (one user, no accounts); start it with CAIRN_AUTH=team for teams and tokens';

/**
 * The signed-in user, for procedures about the user's own account (tokens, teams).
 * Those are not project-scoped, so there is nothing to hide: anonymous callers get
 * UNAUTHORIZED, and local mode PRECONDITION_FAILED.
 */
export function signedIn(ctx: Pick<Context, 'viewer'>): Extract<Viewer, { mode: 'team' }> {
  if (ctx.viewer.mode === 'local') throw new TRPCError({ code: 'PRECONDITION_FAILED', message: TEAM_MODE_OFF });
  if (!isSignedIn(ctx.viewer)) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in (or send an API token) first' });
  return ctx.viewer;
}

export function teamAuth(ctx: Pick<Context, 'auth'>): CairnAuth {
  if (!ctx.auth) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: TEAM_MODE_OFF });
  return ctx.auth;
}
