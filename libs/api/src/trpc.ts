import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { CairnError } from '@cairn/schema';
import type { Context } from './context.ts';
import { errorData, toClientError } from './errors.ts';

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error, ctx }) {
    // In team mode an unexpected error's text (SQL, paths) stays in the server's log.
    const hidden = ctx?.viewer.mode === 'team' && shape.data.code === 'INTERNAL_SERVER_ERROR' && !(error.cause instanceof CairnError);
    return {
      ...shape,
      message: hidden ? 'internal error in the Cairn server' : shape.message,
      data: { ...shape.data, ...errorData(error), ...(hidden ? { stack: undefined } : {}) },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Every procedure's base: errors leave as the client should see them (see toClientError). */
export const procedure = t.procedure.use(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toClientError(result.error);
  return result;
});
