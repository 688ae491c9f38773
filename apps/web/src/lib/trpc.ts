/**
 * The typed tRPC hooks for client components: `const trpc = useTRPC()`, then
 * `useQuery(trpc.runs.get.queryOptions({ id }))`. The router type comes from
 * @cairn/api as a type only, so no server code reaches the browser bundle.
 */
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '@cairn/api';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/** Where the API is served (the route handler in app/api/[...path]). */
export const TRPC_PATH = '/api/trpc';
