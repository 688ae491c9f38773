'use client';
/** Sweeps (a parent run and its trials) with their leaderboards; early-terminated trials are marked. */
import { useState } from 'react';
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import type { SweepItem } from '../lib/api-types.ts';
import { formatNumber, formatRelative } from '../lib/format.ts';
import { StatusChip } from './StatusChip.tsx';
import { ErrorBox, Loading } from './QueryState.tsx';

function Leaderboard({ sweepId }: { sweepId: string }) {
  const trpc = useTRPC();
  const board = useQuery(trpc.sweeps.leaderboard.queryOptions({ sweepId }, { refetchInterval: 10_000 }));
  if (board.error) return <ErrorBox error={board.error} />;
  if (board.isPending) return <Loading what="Loading the leaderboard" />;
  const { rows, sweep } = board.data;
  if (!rows.length) return <p className="muted small">No trials yet.</p>;
  return (
    <table className="data" data-testid="leaderboard">
      <thead>
        <tr>
          <th className="num">rank</th>
          <th>trial</th>
          <th>status</th>
          <th className="num">{sweep.objective ? `${sweep.objective.metric} (${sweep.objective.direction === 'minimize' ? 'min' : 'max'})` : 'objective'}</th>
          <th>params</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => (
          <tr key={t.runId} data-testid="leaderboard-row" data-run-id={t.runId} data-early={t.earlyTerminated || undefined}>
            <td className="num">{t.rank}</td>
            <td>
              <Link prefetch={false} href={`/runs/${encodeURIComponent(t.runId)}`}>{t.name}</Link> <span className="muted small">#{t.index}</span>
              {t.earlyTerminated ? (
                <span className="pill" style={{ marginLeft: 6, color: 'var(--st-abandoned-fg)' }} title={t.reason ?? 'stopped early by the sweep policy'} data-testid="early-terminated">
                  early stop
                </span>
              ) : null}
            </td>
            <td>
              <StatusChip status={t.runStatus} reason={t.reason} showReason="title" />
            </td>
            <td className="num">{Number.isNaN(t.value) ? <span className="muted">—</span> : formatNumber(t.value)}</td>
            <td className="mono small">
              {Object.entries(t.params)
                .map(([k, v]) => `${k}=${typeof v === 'number' ? formatNumber(v) : String(v)}`)
                .join('  ')}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SweepLine({ s, open, onToggle }: { s: SweepItem; open: boolean; onToggle: () => void }) {
  return (
    <div className="note" data-testid="sweep" data-sweep-id={s.id}>
      <div className="row">
        <button type="button" className="link" aria-expanded={open} onClick={onToggle} data-testid="sweep-toggle">
          {open ? '▾' : '▸'} {s.name}
        </button>
        <StatusChip status={s.status} reason={s.statusReason} />
        <span className="small muted">
          {s.experimentName} · {s.strategy ?? 'sweep'} · {s.trials.done}/{s.trials.total ?? '?'} trials done
          {s.trials.inFlight ? `, ${s.trials.inFlight} in flight` : ''} · {formatRelative(s.createdAt)}
        </span>
        <span className="spacer" />
        {s.best ? (
          <span className="small" data-testid="sweep-best">
            best {s.objective ? <span className="mono">{s.objective.metric}</span> : 'objective'} = <strong>{formatNumber(s.best.value)}</strong>
            {s.best.runId ? (
              <>
                {' '}
                <Link prefetch={false} href={`/runs/${encodeURIComponent(s.best.runId)}`}>trial{s.best.trial !== null ? ` #${s.best.trial}` : ''}</Link>
              </>
            ) : null}
          </span>
        ) : null}
        <Link prefetch={false} href={`/runs/${encodeURIComponent(s.id)}`} className="small">
          parent run
        </Link>
      </div>
      {open ? (
        <div style={{ marginTop: 8 }}>
          <Leaderboard sweepId={s.id} />
        </div>
      ) : null}
    </div>
  );
}

export function SweepsPanel() {
  const trpc = useTRPC();
  const sweeps = useQuery(trpc.sweeps.list.queryOptions(undefined, { refetchInterval: 15_000 }));
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section className="panel" aria-labelledby="sweeps-h" data-testid="sweeps">
      <h2 id="sweeps-h">Sweeps</h2>
      {sweeps.error ? <ErrorBox error={sweeps.error} /> : null}
      {sweeps.isPending ? <Loading what="Loading sweeps" /> : null}
      {sweeps.data && sweeps.data.length === 0 ? (
        <p className="muted small">
          No sweeps yet. Start one with <code>cairn sweep train.ts --space space.json --trials 20</code>.
        </p>
      ) : null}
      {sweeps.data?.map((s) => <SweepLine key={s.id} s={s} open={open === s.id} onToggle={() => setOpen(open === s.id ? null : s.id)} />)}
    </section>
  );
}
