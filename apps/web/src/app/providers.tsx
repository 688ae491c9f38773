'use client';
/**
 * React Query + tRPC for the whole portal: queries and mutations go through one
 * batched HTTP link (superjson, so dates arrive as Date) that streams each answer as
 * soon as it is ready, so a slow call (a count over every match) never holds back a
 * fast one batched with it; subscriptions (`queues.events`) use server-sent events.
 */
import { useState, type ReactNode } from 'react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchStreamLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '@cairn/api';
import { TRPCProvider, TRPC_PATH } from '../lib/trpc.ts';

/** Client errors (bad filter, not found…) do not get better by asking again. */
function shouldRetry(failures: number, error: unknown): boolean {
  if (error instanceof TRPCClientError) {
    const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
    if (status !== undefined && status >= 400 && status < 500) return false;
  }
  return failures < 2;
}

function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { staleTime: 5_000, refetchOnWindowFocus: false, retry: shouldRetry },
      mutations: { retry: false },
    },
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === 'subscription',
          true: httpSubscriptionLink({ url: TRPC_PATH, transformer: superjson }),
          false: httpBatchStreamLink({ url: TRPC_PATH, transformer: superjson, maxURLLength: 6_000 }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
