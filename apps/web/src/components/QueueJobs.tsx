'use client';
/** The running and waiting jobs of one tier, with progress and a Cancel button each. */
import { useEffect } from 'react';
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { formatRelative } from '../lib/format.ts';
import { CancelButton } from './CancelButton.tsx';
import { ErrorBox } from './QueryState.tsx';

type JobState = 'active' | 'waiting' | 'delayed';

function progressOf(p: unknown): number | null {
  if (typeof p === 'number' && Number.isFinite(p)) return p > 1 ? p / 100 : p;
  if (p && typeof p === 'object') {
    const o = p as Record<string, unknown>;
    if (typeof o.fraction === 'number') return o.fraction;
    if (typeof o.percent === 'number') return o.percent / 100;
    if (typeof o.step === 'number' && typeof o.total === 'number' && o.total > 0) return o.step / o.total;
    if (typeof o.epoch === 'number' && typeof o.epochs === 'number' && o.epochs > 0) return o.epoch / o.epochs;
  }
  return null;
}

export function QueueJobs({ tier, state, version }: { tier: string; state: JobState; version: string }) {
  const trpc = useTRPC();
  const jobs = useQuery(trpc.queues.jobs.queryOptions({ tier: tier as never, state, limit: 50 }, { refetchInterval: state === 'active' ? 3_000 : 10_000 }));
  // The live counts moved: the lists did too.
  const { refetch } = jobs;
  useEffect(() => {
    void refetch();
  }, [version, refetch]);
  if (jobs.error) return <ErrorBox error={jobs.error} />;
  const list = jobs.data ?? [];
  if (!list.length) return null;
  return (
    <table className="data" data-testid={`jobs-${tier}-${state}`}>
      <thead>
        <tr>
          <th>run</th>
          <th>state</th>
          <th>progress</th>
          <th className="num">attempts</th>
          <th>queued</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {list.map((j) => {
          // BullMQ starts every job at progress 0: only a started job's progress means anything.
          const p = j.state === 'active' ? progressOf(j.progress) : null;
          return (
            <tr key={j.runId} data-testid="queue-job" data-run-id={j.runId} data-state={j.state}>
              <td>
                <Link prefetch={false} href={`/runs/${encodeURIComponent(j.runId)}`}>{j.runName ?? j.runId}</Link>
              </td>
              <td>
                <span className={`chip ${j.state === 'active' ? 'st-running' : 'st-queued'}`}>{j.state === 'active' ? 'running' : j.state}</span>
              </td>
              <td style={{ minWidth: 140 }}>
                {p !== null ? (
                  <div className="row" style={{ gap: 6 }}>
                    <div className="progress" style={{ flex: 1 }} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(p * 100)}>
                      <span style={{ width: `${Math.min(100, Math.max(0, p * 100))}%` }} />
                    </div>
                    <span className="small mono">{Math.round(p * 100)}%</span>
                  </div>
                ) : (
                  <span className="muted small">—</span>
                )}
              </td>
              <td className="num">{j.attempts}</td>
              <td>{formatRelative(j.enqueuedAt)}</td>
              <td>
                <CancelButton runId={j.runId} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
