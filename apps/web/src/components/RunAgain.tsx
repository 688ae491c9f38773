'use client';
/**
 * Queues a new run of this run's code, data and params on a tier (queues.submit): "run
 * it again", or "run it on the nightly tier". Shown only for a run that has a code bundle
 * and a snapshot, while the queues are up. Opens the new run once it is queued.
 */
import { useState } from 'react';
import { useRouter } from 'next/navigation';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { errorMessage } from './QueryState.tsx';

export function RunAgain({ runId, tier }: { runId: string; tier: string | null }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  // The tiers the queues have (and whether they are up), as the queues page shows them.
  const counts = useQuery(trpc.queues.counts.queryOptions(undefined, { staleTime: 60_000 }));
  const tiers = counts.data?.available ? counts.data.tiers.map((t) => t.tier) : [];
  const [picked, setPicked] = useState<string | null>(null);
  const chosen = picked ?? (tier && tiers.includes(tier) ? tier : tiers[0]);
  const submit = useMutation(
    trpc.queues.submit.mutationOptions({
      onSuccess: async (run) => {
        await queryClient.invalidateQueries({ queryKey: trpc.queues.pathKey() });
        router.push(`/runs/${encodeURIComponent(run.id)}`);
      },
    }),
  );
  if (!chosen) return null;
  return (
    <span className="row" style={{ gap: 6 }}>
      <label htmlFor="run-again-tier" className="sr-only">
        Tier
      </label>
      <select id="run-again-tier" value={chosen} onChange={(e) => setPicked(e.target.value)} disabled={submit.isPending} data-testid="run-again-tier">
        {tiers.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
      <button type="button" disabled={submit.isPending} onClick={() => submit.mutate({ runId, tier: chosen })} data-testid="run-again" title="Queue a new run of this code, data and params on the chosen tier">
        {submit.isPending ? 'Queuing…' : 'Run again'}
      </button>
      {submit.error ? (
        <span className="small" style={{ color: 'var(--danger)' }} role="alert">
          {errorMessage(submit.error)}
        </span>
      ) : null}
    </span>
  );
}
