import { TRPCError } from '@trpc/server';
import { expect } from 'vitest';
import type { Store } from '@cairn/store';
import type { Role, Viewer } from './access.ts';
import { createContext, type ContextOptions } from './context.ts';
import { createCaller } from './router.ts';

export function callerFor(store: Store, options: Omit<ContextOptions, 'store'> = {}) {
  return createCaller(createContext({ store, ...options }));
}

export function teamViewer(userId: string, roles: Record<string, Role>): Viewer {
  return { mode: 'team', userId, roles: new Map(Object.entries(roles)) };
}

/** The TRPCError a call fails with (the test fails if it succeeds). */
export async function trpcError(p: Promise<unknown>): Promise<TRPCError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, 'the call should have failed').toBeInstanceOf(TRPCError);
  return e as TRPCError;
}
