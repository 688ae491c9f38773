'use client';
/**
 * What the pipeline decided about a run: the queue prefix it queued the run under, its
 * gate verdict per tier (the expression and the values that decided it), the sweep it
 * runs or belongs to, champion decisions, and every attempt at the run (which worker took
 * it, when, from which checkpoint, how it ended). Read from the pipeline's own records
 * (runs.get's `pipeline`), which no user edits: a tag named `gate` or `attempt.1` is only
 * a tag, and shows with the tags.
 */
import Link from 'next/link';
import type { PipelineView } from '@cairn/api';
import { formatDate, formatNumber, shortId } from '../lib/format.ts';

function value(v: number | string | null): string {
  if (v === null) return 'missing';
  return typeof v === 'number' ? formatNumber(v) : v;
}

function runLink(id: string) {
  return (
    <Link prefetch={false} className="mono" href={`/runs/${encodeURIComponent(id)}`} title={id}>
      {shortId(id, 13)}
    </Link>
  );
}

/** A script's own start is its only attempt: nothing worth a table. */
function workerAttempts(p: PipelineView): boolean {
  return p.attempts.length > 1 || p.attempts.some((a) => a.workerId !== null);
}

export function hasPipelineDecisions(p: PipelineView): boolean {
  return p.gates.length > 0 || p.champion.length > 0 || p.sweep !== null || p.trial !== null || p.queue !== null || workerAttempts(p);
}

function AttemptsTable({ attempts, runEnded }: { attempts: PipelineView['attempts']; runEnded: boolean }) {
  return (
    <table className="data small" data-testid="attempts">
      <caption className="muted" style={{ textAlign: 'left' }}>
        Attempts
      </caption>
      <thead>
        <tr>
          <th className="num">#</th>
          <th>worker</th>
          <th>started</th>
          <th>ended</th>
          <th className="num">resumed from step</th>
          <th>outcome</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a) => (
          <tr key={a.attempt} data-testid="attempt" data-attempt={a.attempt} data-outcome={a.outcome ?? (runEnded ? 'unrecorded' : 'running')}>
            <td className="num">{a.attempt}</td>
            <td className="mono">{a.workerId ?? <span className="muted">script</span>}</td>
            <td>{formatDate(a.startedAt)}</td>
            <td>{a.endedAt ? formatDate(a.endedAt) : <span className="muted">—</span>}</td>
            <td className="num">{a.resumedFromStep ?? <span className="muted">—</span>}</td>
            <td>
              {a.outcome ? (
                <span className={`chip ${outcomeClass(a.outcome)}`}>{a.outcome.replace('_', ' ')}</span>
              ) : runEnded ? (
                // The run ended without this attempt saying how (a script's end, a worker gone).
                <span className="muted">—</span>
              ) : (
                <span className="chip st-running">running</span>
              )}
            </td>
            <td>{a.detail ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function outcomeClass(outcome: NonNullable<PipelineView['attempts'][number]['outcome']>): string {
  if (outcome === 'finished') return 'st-finished';
  if (outcome === 'failed' || outcome === 'lost_lock') return 'st-failed';
  if (outcome === 'abandoned' || outcome === 'cancelled') return `st-${outcome}`;
  return '';
}

export function PipelinePanel({ pipeline, runEnded }: { pipeline: PipelineView; runEnded: boolean }) {
  const { gates, champion, sweep, trial, queue } = pipeline;
  return (
    <section className="panel" aria-labelledby="pipeline-h" data-testid="pipeline">
      <h2 id="pipeline-h">Pipeline</h2>
      <dl className="kv small">
        {queue !== null ? (
          <>
            <dt>Queue prefix</dt>
            <dd data-testid="queue-prefix" className="mono">
              {queue}
            </dd>
          </>
        ) : null}
        {gates.map((g) => (
          <div key={g.tier} style={{ display: 'contents' }}>
            <dt>{g.tier} gate</dt>
            <dd data-testid="gate" data-tier={g.tier} data-verdict={g.passed ? 'passed' : 'failed'}>
              <span className={`chip ${g.passed ? 'st-finished' : 'st-failed'}`}>{g.passed ? 'passed' : 'failed'}</span> <code>{g.expression}</code>
              {Object.keys(g.values).length ? (
                <span className="small muted">
                  {' '}
                  ({Object.entries(g.values)
                    .map(([k, v]) => `${k} = ${value(v)}`)
                    .join(', ')}
                  )
                </span>
              ) : null}
              {g.missing.length ? <span className="small" style={{ color: 'var(--danger)' }}> missing: {g.missing.join(', ')}</span> : null}
              <span className="small muted"> · {formatDate(g.evaluatedAt)}</span>
            </dd>
          </div>
        ))}
        {sweep ? (
          <>
            <dt>Sweep</dt>
            <dd data-testid="sweep-info" data-status={sweep.status}>
              {sweep.strategy} · {sweep.objective.metric} ({sweep.objective.direction === 'minimize' ? 'min' : 'max'}) · {sweep.maxTrials} trials, {sweep.parallel} at once · {sweep.status}
              {sweep.best ? (
                <>
                  {' '}
                  · best {formatNumber(sweep.best.value)} in trial {sweep.best.trial} ({runLink(sweep.best.runId)})
                </>
              ) : null}
            </dd>
          </>
        ) : null}
        {trial ? (
          <>
            <dt>Sweep trial</dt>
            <dd data-testid="trial-info">
              trial {trial.index} of {runLink(trial.sweepId)}
              {Object.keys(trial.params).length ? (
                <span className="small muted">
                  {' '}
                  ({Object.entries(trial.params)
                    .map(([k, v]) => `${k} = ${typeof v === 'number' ? formatNumber(v) : String(v)}`)
                    .join(', ')}
                  )
                </span>
              ) : null}
            </dd>
          </>
        ) : null}
        {champion.map((c) => (
          <div key={c.tier} style={{ display: 'contents' }}>
            <dt>Champion ({c.tier})</dt>
            <dd data-testid="champion" data-decision={c.decision}>
              <span className={`chip ${c.decision === 'error' ? 'st-failed' : c.decision === 'kept' ? '' : 'st-finished'}`}>{c.decision}</span> {c.detail}
              <span className="small muted"> · {formatDate(c.decidedAt)}</span>
            </dd>
          </div>
        ))}
      </dl>
      {workerAttempts(pipeline) ? <AttemptsTable attempts={pipeline.attempts} runEnded={runEnded} /> : null}
    </section>
  );
}
