'use client';
/**
 * /queues: the tier queues live (a subscription pushes the counts as they change),
 * the jobs running and waiting in each with a Cancel button, the latest gate
 * verdicts, and sweeps with their leaderboards.
 */
import Link from 'next/link';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useTRPC } from '../../lib/trpc.ts';
import type { QueueCounts } from '../../lib/api-types.ts';
import { formatRelative } from '../../lib/format.ts';
import { QueueJobs } from '../QueueJobs.tsx';
import { SweepsPanel } from '../SweepsPanel.tsx';
import { EmptyState } from '../EmptyState.tsx';
import { ErrorBox, Loading } from '../QueryState.tsx';

const COUNT_FIELDS = ['waiting', 'active', 'delayed', 'completed', 'failed', 'paused'] as const;

/** An event is the counts, or the counts wrapped by tracked() as `{ id, data }`. */
function countsOf(ev: unknown): QueueCounts | null {
  if (!ev || typeof ev !== 'object') return null;
  const o = ev as Record<string, unknown>;
  if (Array.isArray(o.tiers)) return ev as QueueCounts;
  return o.data ? countsOf(o.data) : null;
}

export function QueuesView() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const counts = useQuery(trpc.queues.counts.queryOptions(undefined, { refetchInterval: 30_000 }));
  const live = useSubscription(
    trpc.queues.events.subscriptionOptions(undefined, {
      enabled: counts.data?.available === true,
      onData: (ev: unknown) => {
        const c = countsOf(ev);
        if (c) queryClient.setQueryData(trpc.queues.counts.queryKey(), c);
      },
    }),
  );
  const gates = useQuery(trpc.runs.gates.queryOptions({ limit: 15 }, { refetchInterval: 20_000 }));

  const data = counts.data;
  const isLive = live.status === 'pending';

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Queues</h1>
          <div className="sub">ci → extended → nightly → weekly: gates promote work from tier to tier.</div>
        </div>
        {data?.available ? (
          <span className={`live${isLive ? ' on' : ''}`} data-testid="live-indicator" data-status={live.status}>
            <span className="dot" aria-hidden="true" />
            {isLive ? 'live' : live.status === 'connecting' ? 'connecting…' : live.status === 'error' ? 'live updates lost, polling' : 'polling'}
          </span>
        ) : null}
      </div>
      {counts.error ? <ErrorBox error={counts.error} title="Could not read the queues" /> : null}
      {counts.isPending ? <Loading what="Reading the queues" /> : null}
      {data && !data.available ? (
        <EmptyState title="Queues are not connected" testId="queues-off">
          The portal found no Redis{data.reason ? <> ({data.reason})</> : null}. Start one (<code>redis-server</code>) and set <code>REDIS_URL</code>, then run{' '}
          <code>cairn worker</code> and <code>cairn submit</code>.
        </EmptyState>
      ) : null}
      {data?.available ? (
        <>
          <div className="tiers" data-testid="tiers">
            {data.tiers.map((t) => (
              <div key={t.tier} className="tier" data-testid="tier" data-tier={t.tier} data-waiting={t.waiting} data-active={t.active}>
                <h3>{t.tier}</h3>
                <div className="big">
                  {t.active}
                  <span className="muted small" style={{ fontWeight: 400 }}>
                    {' '}
                    running
                  </span>
                </div>
                <dl>
                  {COUNT_FIELDS.filter((f) => f !== 'active').map((f) => (
                    <FragmentRow key={f} label={f} value={t[f] as number | boolean | undefined} />
                  ))}
                </dl>
              </div>
            ))}
          </div>
          {data.tiers.every((t) => !t.active && !t.waiting && !t.delayed) ? (
            <p className="muted small" data-testid="queues-idle">
              Nothing running or waiting. Submit work with <code>cairn submit train.ts --tier ci</code>.
            </p>
          ) : null}
          {data.tiers
            .filter((t) => t.active || t.waiting || t.delayed)
            .map((t) => {
              const version = `${t.active}:${t.waiting}:${t.delayed}:${t.completed}:${t.failed}`;
              return (
                <section key={t.tier} className="panel" aria-label={`${t.tier} jobs`}>
                  <h2>{t.tier}</h2>
                  {t.active ? <QueueJobs tier={t.tier} state="active" version={version} /> : null}
                  {t.waiting ? <QueueJobs tier={t.tier} state="waiting" version={version} /> : null}
                  {t.delayed ? <QueueJobs tier={t.tier} state="delayed" version={version} /> : null}
                </section>
              );
            })}
        </>
      ) : null}

      <section className="panel" aria-labelledby="gates-h" data-testid="gates">
        <h2 id="gates-h">Latest gate verdicts</h2>
        {gates.error ? <ErrorBox error={gates.error} /> : null}
        {gates.data && gates.data.length === 0 ? <p className="muted small">No gate evaluated yet: gates run when a tiered run ends.</p> : null}
        {gates.data && gates.data.length ? (
          <table className="data">
            <thead>
              <tr>
                <th>run</th>
                <th>tier</th>
                <th>verdict</th>
                <th>evaluated</th>
              </tr>
            </thead>
            <tbody>
              {gates.data.map(({ run: r, gate: g }) => (
                <tr key={`${r.id}:${g.tier}`} data-testid="gate-row" data-run-id={r.id} data-verdict={g.passed ? 'passed' : 'failed'}>
                  <td>
                    <Link prefetch={false} href={`/runs/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                  </td>
                  <td>{g.tier}</td>
                  <td>
                    <span className={`chip ${g.passed ? 'st-finished' : 'st-failed'}`} title={g.expression}>
                      {g.passed ? 'passed' : 'failed'}
                    </span>
                  </td>
                  <td>{formatRelative(g.evaluatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>

      <SweepsPanel />
    </>
  );
}

function FragmentRow({ label, value }: { label: string; value: number | boolean | undefined }) {
  return (
    <>
      <dt className="muted">{label}</dt>
      <dd>{typeof value === 'boolean' ? (value ? 'yes' : 'no') : (value ?? 0)}</dd>
    </>
  );
}
