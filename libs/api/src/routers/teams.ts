import { z } from 'zod';
import { eq } from 'drizzle-orm';
import { ConflictError, NotFoundError, nameSchema, users } from '@cairn/schema';
import { signedIn, teamAuth } from '../auth/guards.ts';
import { teamRole, teamsOf, type TeamMembership } from '../auth/membership.ts';
import { ROLES, orgRoleFor } from '../auth/roles.ts';
import type { Role } from '../access.ts';
import type { Context } from '../context.ts';
import { procedure, router } from '../trpc.ts';

const teamId = z.string().min(1).max(100);

/**
 * The team if the signed-in user is its admin; otherwise (another team, a role below
 * admin, no such team) the same not-found, so nobody learns which teams exist.
 */
export async function requireTeamAdmin(ctx: Context, id: string): Promise<void> {
  const role = await teamRole(ctx.store, signedIn(ctx).userId, id);
  if (role !== 'admin') throw new NotFoundError('team', id);
}

/** better-auth answers a duplicate (slug, member) with a 400 APIError; callers see Cairn's CONFLICT. */
function rethrow(e: unknown, conflict: string): never {
  const status = (e as { statusCode?: number; status?: unknown }).statusCode;
  if (status === 400 || (e as { status?: unknown }).status === 'BAD_REQUEST') throw new ConflictError(`${conflict} (${(e as Error).message})`);
  throw e;
}

function slugOf(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'team'
  );
}

export const teamsRouter = router({
  /** The signed-in user's teams with their role in each. */
  list: procedure.query(async ({ ctx }): Promise<TeamMembership[]> => teamsOf(ctx.store, signedIn(ctx).userId)),
  /** A new team; its creator is its owner (a Cairn admin). */
  create: procedure
    .input(z.object({ name: nameSchema, slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,59}$/, 'lowercase letters, digits and dashes').optional() }))
    .mutation(async ({ ctx, input }): Promise<TeamMembership> => {
      const viewer = signedIn(ctx);
      const slug = input.slug ?? slugOf(input.name);
      // Server-side call with the user's id: better-auth makes it the owner without a session round trip.
      const team = await teamAuth(ctx)
        .api.createOrganization({ body: { name: input.name, slug, userId: viewer.userId } })
        .catch((e: unknown) => rethrow(e, `a team with slug '${slug}' exists already`));
      return { id: team.id, name: team.name, slug: team.slug, createdAt: team.createdAt, role: 'admin' };
    }),
  /** Adds an existing user (by email) to a team with a role; the caller must be the team's admin. */
  addMember: procedure
    .input(z.object({ teamId, email: z.string().trim().toLowerCase().email(), role: z.enum(ROLES) }))
    .mutation(async ({ ctx, input }): Promise<{ teamId: string; userId: string; email: string; role: Role }> => {
      await requireTeamAdmin(ctx, input.teamId);
      const [user] = await ctx.store.drizzle().select({ id: users.id }).from(users).where(eq(users.email, input.email));
      if (!user) throw new NotFoundError('user', input.email);
      await teamAuth(ctx)
        .api.addMember({ body: { userId: user.id, organizationId: input.teamId, role: orgRoleFor(input.role) } })
        .catch((e: unknown) => rethrow(e, `${input.email} is in the team already`));
      return { teamId: input.teamId, userId: user.id, email: input.email, role: input.role };
    }),
});
