import { z } from 'zod';
import { NotFoundError } from '@cairn/schema';
import { signedIn } from '../auth/guards.ts';
import { teamRole } from '../auth/membership.ts';
import { createApiToken, listApiTokens, revokeApiToken, type ApiTokenInfo } from '../auth/tokens.ts';
import { procedure, router } from '../trpc.ts';

/** The signed-in user's API tokens (team mode). The secret is in `create`'s answer only. */
export const tokensRouter = router({
  list: procedure.query(async ({ ctx }): Promise<ApiTokenInfo[]> => listApiTokens(ctx.store, signedIn(ctx).userId)),
  create: procedure
    .input(z.object({ name: z.string().trim().min(1).max(100), teamId: z.string().min(1).max(100).optional() }))
    .mutation(async ({ ctx, input }): Promise<ApiTokenInfo & { token: string }> => {
      const viewer = signedIn(ctx);
      // A token limited to a team the user is not in would grant nothing; say so as for a missing team.
      if (input.teamId && !(await teamRole(ctx.store, viewer.userId, input.teamId))) throw new NotFoundError('team', input.teamId);
      return createApiToken(ctx.store, { userId: viewer.userId, name: input.name, teamId: input.teamId ?? null });
    }),
  revoke: procedure
    .input(z.object({ id: z.string().uuid() }))
    .mutation(async ({ ctx, input }): Promise<ApiTokenInfo> => revokeApiToken(ctx.store, signedIn(ctx).userId, input.id)),
});
