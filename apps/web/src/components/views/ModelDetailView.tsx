'use client';
/** /models/[name]: versions (newest first) with their runs, aliases and their history, deployments. */
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { formatDate, formatRelative, shortId, uniquePrefixes } from '../../lib/format.ts';
import { lineageHref } from '../../lib/lineage-layout.ts';
import { EmptyState } from '../EmptyState.tsx';
import { ErrorBox, isNotFound, Loading } from '../QueryState.tsx';

export function ModelDetailView({ name }: { name: string }) {
  const trpc = useTRPC();
  const model = useQuery(trpc.models.get.queryOptions({ name }));
  if (model.error) {
    return isNotFound(model.error) ? (
      <EmptyState title="No such model" testId="not-found">
        No model is named <code>{name}</code>. <Link prefetch={false} href="/models">Back to the registry</Link>.
      </EmptyState>
    ) : (
      <ErrorBox error={model.error} title="Could not load the model" />
    );
  }
  if (model.isPending) return <Loading what="Loading the model" />;
  const m = model.data;
  const { versions, aliases, deployments } = m;
  // Newest move first.
  const history = m.aliasHistory.slice().reverse();
  const runIds = uniquePrefixes(versions.flatMap((v) => (v.runId ? [v.runId] : [])));

  return (
    <div data-testid="model-detail" data-model={name}>
      <div className="page-head">
        <div>
          <div className="crumbs">
            <Link prefetch={false} href="/models">Models</Link>
          </div>
          <h1>{name}</h1>
          {m.description ? <div className="sub">{m.description}</div> : null}
        </div>
        <div className="row">
          {Object.entries(aliases).map(([alias, v]) => (
            <span key={alias} className="pill alias" data-testid="alias" data-alias={alias} data-version={v}>
              @{alias} → v{v}
            </span>
          ))}
        </div>
      </div>

      <section className="panel" aria-labelledby="versions-h">
        <h2 id="versions-h">Versions</h2>
        {versions.length === 0 ? (
          <p className="muted small">No versions.</p>
        ) : (
          <table className="data" data-testid="versions">
            <thead>
              <tr>
                <th className="num">version</th>
                <th>aliases</th>
                <th>run</th>
                <th>artifact</th>
                <th>registered</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.id} data-testid="version-row" data-version={v.version}>
                  <td className="num">v{v.version}</td>
                  <td>
                    {v.aliases.map((a) => (
                      <span key={a} className="pill alias" style={{ marginRight: 4 }}>
                        @{a}
                      </span>
                    ))}
                  </td>
                  <td>
                    {v.runId ? (
                      <Link prefetch={false} href={`/runs/${encodeURIComponent(v.runId)}`} className="mono" title={v.runId}>
                        {runIds.get(v.runId) ?? shortId(v.runId)}
                      </Link>
                    ) : (
                      <span className="muted">—</span>
                    )}
                    {v.deployments.some((d) => !d.stoppedAt) ? (
                      <span className="chip st-running" style={{ marginLeft: 6 }}>
                        deployed
                      </span>
                    ) : null}
                  </td>
                  <td className="mono small" title={v.artifactHash}>
                    {shortId(v.artifactHash, 12)}
                  </td>
                  <td>{formatDate(v.createdAt)}</td>
                  <td>
                    <Link prefetch={false} href={lineageHref('model_version', v.id, 'upstream')} className="small">
                      lineage
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <div className="grid2">
        <section className="panel" aria-labelledby="history-h">
          <h2 id="history-h">Alias history</h2>
          {history.length === 0 ? (
            <p className="muted small">No alias moved yet.</p>
          ) : (
            <table className="data" data-testid="alias-history">
              <thead>
                <tr>
                  <th>when</th>
                  <th>alias</th>
                  <th>move</th>
                </tr>
              </thead>
              <tbody>
                {history.map((h, i) => (
                  <tr key={`${h.alias}:${String(h.movedAt)}:${i}`}>
                    <td>{formatDate(h.movedAt)}</td>
                    <td>@{h.alias}</td>
                    <td>
                      {h.previous === null ? '—' : `v${h.previous}`} → {h.version === null ? 'removed' : `v${h.version}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <section className="panel" aria-labelledby="deploy-h">
          <h2 id="deploy-h">Deployments</h2>
          {deployments.length === 0 ? (
            <p className="muted small">
              Not deployed. Serve it with <code>cairn serve {name}@production</code>.
            </p>
          ) : (
            <table className="data" data-testid="deployments">
              <thead>
                <tr>
                  <th>environment</th>
                  <th>host</th>
                  <th>version</th>
                  <th>since</th>
                  <th>state</th>
                </tr>
              </thead>
              <tbody>
                {deployments.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <Link prefetch={false} href={lineageHref('deployment', d.id, 'upstream')}>{d.environment}</Link>
                    </td>
                    <td className="mono small">{d.host}</td>
                    <td>v{d.version}</td>
                    <td>{formatRelative(d.startedAt)}</td>
                    <td>{d.stoppedAt ? <span className="muted">stopped {formatRelative(d.stoppedAt)}</span> : <span className="chip st-running">live</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </div>
  );
}
