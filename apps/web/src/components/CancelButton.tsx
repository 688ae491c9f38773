'use client';
/**
 * Cancels a queued or running run (the waiting job is removed, a running one is
 * signalled; the run is kept, marked cancelled). Two clicks: "Cancel", then
 * "Yes, cancel" (data-testid cancel-confirm), so a long run is not lost to a slip.
 */
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { errorMessage } from './QueryState.tsx';

export function CancelButton({ runId, label = 'Cancel' }: { runId: string; label?: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [asking, setAsking] = useState(false);
  const cancel = useMutation(
    trpc.queues.cancel.mutationOptions({
      onSuccess: async () => {
        setAsking(false);
        await Promise.all([
          queryClient.invalidateQueries({ queryKey: trpc.queues.pathKey() }),
          queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() }),
          queryClient.invalidateQueries({ queryKey: trpc.sweeps.pathKey() }),
        ]);
      },
    }),
  );
  if (cancel.isSuccess) {
    return (
      <span className="small muted" data-testid="cancel-done" data-run-id={runId}>
        Cancelled
      </span>
    );
  }
  return (
    <span className="row" style={{ gap: 6 }}>
      {asking ? (
        <>
          <button type="button" className="danger" disabled={cancel.isPending} onClick={() => cancel.mutate({ runId })} data-testid="cancel-confirm" data-run-id={runId}>
            {cancel.isPending ? 'Cancelling…' : 'Yes, cancel'}
          </button>
          <button type="button" onClick={() => setAsking(false)} disabled={cancel.isPending}>
            Keep running
          </button>
        </>
      ) : (
        <button type="button" className="danger" onClick={() => setAsking(true)} data-testid="cancel-button" data-run-id={runId}>
          {label}
        </button>
      )}
      {cancel.error ? (
        <span className="small" style={{ color: 'var(--danger)' }} role="alert">
          {errorMessage(cancel.error)}
        </span>
      ) : null}
    </span>
  );
}
