import { z } from 'zod';
import { TRPCError } from '@trpc/server';
import { nameSchema } from '@cairn/schema';
import type { Project } from '@cairn/store';
import { isLocal, visible } from '../access.ts';
import { procedure, router } from '../trpc.ts';
import { requireTeamAdmin } from './teams.ts';

/** Bumped with @cairn/api's package version. */
export const API_VERSION = '0.1.0';

export const systemRouter = router({
  info: procedure.query(({ ctx }) => ({
    mode: ctx.viewer.mode,
    // '' is the anonymous team-mode viewer: nobody signed in.
    userId: isLocal(ctx.viewer) ? null : ctx.viewer.userId || null,
    storeDriver: ctx.store.driver,
    queues: ctx.queues !== null,
    version: API_VERSION,
  })),
});

export const projectsRouter = router({
  list: procedure.query(async ({ ctx }) => visible(ctx, await ctx.store.listProjects(), (p) => p.id)),
  /**
   * A new project. Team mode: owned by `teamId`, whose admin the caller must be. Local
   * mode: no team (there are none). Names are unique across the server.
   */
  create: procedure
    .input(z.object({ name: nameSchema, description: z.string().max(10_000).optional(), teamId: z.string().min(1).max(100).optional() }))
    .mutation(async ({ ctx, input }): Promise<Project> => {
      if (isLocal(ctx.viewer)) {
        if (input.teamId) throw new TRPCError({ code: 'BAD_REQUEST', message: 'invalid input: teamId: local mode has no teams' });
      } else {
        if (!input.teamId) throw new TRPCError({ code: 'BAD_REQUEST', message: 'invalid input: teamId: a project in team mode belongs to a team' });
        await requireTeamAdmin(ctx, input.teamId);
      }
      return ctx.store.createProject({ name: input.name, description: input.description, teamId: input.teamId ?? null });
    }),
});
