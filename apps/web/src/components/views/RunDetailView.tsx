'use client';
/**
 * /runs/[id]: one run — its status and why it ended, params, tags, metric charts
 * (model metrics and system metrics apart), artifacts, notes, code and data it ran
 * with, and its lineage.
 */
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { formatBytes, formatDate, formatDuration, formatNumber, runDuration, shortId } from '../../lib/format.ts';
import { isActiveStatus } from '../../lib/status.ts';
import { isSystemMetric } from '../../lib/series.ts';
import { compareHref, EMPTY_VIEW, runsViewHref } from '../../lib/url-state.ts';
import { lineageHref } from '../../lib/lineage-layout.ts';
import { StatusChip } from '../StatusChip.tsx';
import { RunCharts } from '../RunCharts.tsx';
import { NotesPanel } from '../NotesPanel.tsx';
import { LineagePanel } from '../LineagePanel.tsx';
import { KeyValueTable } from '../KeyValueTable.tsx';
import { CancelButton } from '../CancelButton.tsx';
import { RunAgain } from '../RunAgain.tsx';
import { PipelinePanel, hasPipelineDecisions } from '../PipelinePanel.tsx';
import { EmptyState } from '../EmptyState.tsx';
import { ErrorBox, isBadRequest, isNotFound, Loading } from '../QueryState.tsx';

export function RunDetailView({ id }: { id: string }) {
  const trpc = useTRPC();
  const run = useQuery(trpc.runs.get.queryOptions({ id }, { refetchInterval: (q) => (q.state.data && isActiveStatus(q.state.data.status) ? 5_000 : false) }));

  if (run.error) {
    // An id that cannot be a run id (BAD_REQUEST) is as absent as one that is not there.
    return isNotFound(run.error) || isBadRequest(run.error) ? (
      <EmptyState title="No such run" testId="not-found">
        No run has the id <code>{id}</code>. <Link prefetch={false} href="/runs">Back to the runs</Link>.
      </EmptyState>
    ) : (
      <ErrorBox error={run.error} title="Could not load the run" />
    );
  }
  if (run.isPending) return <Loading what="Loading the run" />;
  const r = run.data;
  const metricKeys = Object.keys(r.metrics).sort((a, b) => a.localeCompare(b));
  const modelKeys = metricKeys.filter((k) => !isSystemMetric(k));
  const systemKeys = metricKeys.filter(isSystemMetric);
  const { code, notes, artifacts, snapshotIds, pipeline } = r;
  const environment = r.environment as Record<string, unknown>;
  const experimentName = r.experimentName || null;

  return (
    <div data-testid="run-detail" data-run-id={r.id} data-status={r.status}>
      <div className="page-head">
        <div style={{ minWidth: 0 }}>
          <div className="crumbs">
            <Link prefetch={false} href="/runs">Runs</Link>
            {experimentName ? (
              <>
                {' / '}
                <Link prefetch={false} href={runsViewHref({ ...EMPTY_VIEW, experiment: experimentName })}>{experimentName}</Link>
              </>
            ) : null}
          </div>
          <h1 data-testid="run-name">{r.name}</h1>
          <div className="sub mono">{r.id}</div>
        </div>
        <div className="row">
          {isActiveStatus(r.status) ? <CancelButton runId={r.id} label="Cancel run" /> : null}
          {code.codeHash && snapshotIds.length ? <RunAgain runId={r.id} tier={r.tier} /> : null}
          <Link prefetch={false} className="btn" href={lineageHref('run', r.id)}>
            Lineage
          </Link>
          <Link prefetch={false} className="btn" href={compareHref([r.id])}>
            Compare…
          </Link>
        </div>
      </div>

      <section className="panel" aria-label="Status" data-testid="run-status">
        <StatusChip status={r.status} reason={r.statusReason} showReason="block" />
        <dl className="kv small" style={{ marginTop: 10 }}>
          <dt>Tier</dt>
          <dd>{r.tier ?? '—'}</dd>
          <dt>Created</dt>
          <dd>{formatDate(r.createdAt)}</dd>
          <dt>Started</dt>
          <dd>{formatDate(r.startedAt)}</dd>
          <dt>Ended</dt>
          <dd>{formatDate(r.endedAt)}</dd>
          <dt>Duration</dt>
          <dd>{formatDuration(runDuration(r.startedAt, r.endedAt))}</dd>
          {r.attempts > 1 ? (
            <>
              <dt>Attempts</dt>
              <dd>{r.attempts}</dd>
            </>
          ) : null}
          {r.parentRunId ? (
            <>
              <dt>Parent</dt>
              <dd>
                <Link prefetch={false} href={`/runs/${encodeURIComponent(r.parentRunId)}`} className="mono" title={r.parentRunId}>
                  {shortId(r.parentRunId, 13)}
                </Link>
              </dd>
            </>
          ) : null}
        </dl>
      </section>

      {hasPipelineDecisions(pipeline) ? <PipelinePanel pipeline={pipeline} runEnded={!isActiveStatus(r.status)} /> : null}

      <div className="grid2">
        <section className="panel" aria-labelledby="params-h">
          <h2 id="params-h">Params</h2>
          <KeyValueTable entries={r.params} testId="params" empty="No params logged." />
        </section>
        <section className="panel" aria-labelledby="metrics-h">
          <h2 id="metrics-h">Metrics</h2>
          {metricKeys.length ? (
            <table className="data" data-testid="metric-summaries">
              <thead>
                <tr>
                  <th>key</th>
                  <th className="num">last</th>
                  <th className="num">min</th>
                  <th className="num">max</th>
                  <th className="num">points</th>
                </tr>
              </thead>
              <tbody>
                {metricKeys.map((k) => {
                  const m = r.metrics[k]!;
                  return (
                    <tr key={k}>
                      <td className="mono">{k}</td>
                      <td className="num">{formatNumber(m.last)}</td>
                      <td className="num">{formatNumber(m.min)}</td>
                      <td className="num">{formatNumber(m.max)}</td>
                      <td className="num">{m.count.toLocaleString()}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : (
            <p className="muted small">No metrics logged.</p>
          )}
        </section>
      </div>

      {modelKeys.length ? (
        <section aria-labelledby="charts-h" style={{ marginBottom: 16 }}>
          <h2 id="charts-h">Charts</h2>
          <RunCharts runId={r.id} keys={modelKeys} testId="run-charts" />
        </section>
      ) : null}
      {systemKeys.length ? (
        <section aria-labelledby="system-h" style={{ marginBottom: 16 }}>
          <h2 id="system-h">System metrics</h2>
          <RunCharts runId={r.id} keys={systemKeys} testId="system-charts" />
        </section>
      ) : null}

      <div className="grid2">
        <section className="panel" aria-labelledby="code-h" data-testid="code-ref">
          <h2 id="code-h">Code and data</h2>
          <dl className="kv small">
            <dt>Git commit</dt>
            <dd className="mono" data-testid="git-sha">
              {code.gitSha ?? '—'}
              {code.gitDirty ? (
                <span className="pill" style={{ marginLeft: 6, color: 'var(--st-abandoned-fg)' }} title="uncommitted changes when the run started">
                  dirty
                </span>
              ) : null}
            </dd>
            <dt>Code bundle</dt>
            <dd className="mono">{code.codeHash ? <Link prefetch={false} href={lineageHref('code', code.codeHash)}>{shortId(code.codeHash, 16)}</Link> : '—'}</dd>
            <dt>Snapshots</dt>
            <dd data-testid="snapshots">
              {snapshotIds.length
                ? snapshotIds.map((s) => (
                    <div key={s}>
                      <Link prefetch={false} className="mono" href={lineageHref('snapshot', s)} title={s}>
                        {shortId(s, 16)}
                      </Link>
                    </div>
                  ))
                : '—'}
            </dd>
          </dl>
          <h3 style={{ marginTop: 14 }}>Tags</h3>
          {Object.keys(r.tags).length ? (
            <div data-testid="tags">
              {Object.entries(r.tags)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, v]) => (
                  <span key={k} className="tag" title={`${k}=${v}`}>
                    {k}={v}
                  </span>
                ))}
            </div>
          ) : (
            <p className="muted small">No tags.</p>
          )}
        </section>
        <section className="panel" aria-labelledby="env-h">
          <h2 id="env-h">Environment</h2>
          <KeyValueTable entries={environment} testId="environment" empty="Not recorded." />
        </section>
      </div>

      <section className="panel" aria-labelledby="artifacts-h" data-testid="artifacts">
        <h2 id="artifacts-h">Artifacts</h2>
        {artifacts.length ? (
          <div className="table-scroll">
            <table className="data">
              <thead>
                <tr>
                  <th>path</th>
                  <th>type</th>
                  <th className="num">size</th>
                  <th>content hash</th>
                </tr>
              </thead>
              <tbody>
                {artifacts.map((a) => (
                  <tr key={`${a.path}:${a.hash}`}>
                    <td className="mono">{a.path}</td>
                    <td className="small">{a.mediaType ?? ''}</td>
                    <td className="num">{formatBytes(a.size)}</td>
                    <td className="mono small" title={a.hash}>
                      {shortId(a.hash, 16)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="muted small">No artifacts.</p>
        )}
      </section>

      <NotesPanel runId={r.id} notes={notes} />
      <LineagePanel kind="run" id={r.id} />
    </div>
  );
}
