'use client';
/** /models: the registry — every model with its versions and where its aliases point. */
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { formatRelative } from '../../lib/format.ts';
import { EmptyState } from '../EmptyState.tsx';
import { QueryState } from '../QueryState.tsx';

export function ModelsView() {
  const trpc = useTRPC();
  const models = useQuery(trpc.models.list.queryOptions());
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Models</h1>
          <div className="sub">Registered versions, their aliases and where they are deployed.</div>
        </div>
      </div>
      <QueryState query={models} what="Loading the registry">
        {(list) =>
          list.length === 0 ? (
            <EmptyState title="No models registered yet">
              Register a run&apos;s exported model with <code>cairn models register &lt;run&gt; --name NAME --alias staging</code>, or run <code>cairn demo</code>.
            </EmptyState>
          ) : (
            <div className="panel">
              <table className="data" data-testid="models">
                <thead>
                  <tr>
                    <th>model</th>
                    <th className="num">versions</th>
                    <th className="num">latest</th>
                    <th>aliases</th>
                    <th>updated</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((m) => (
                    <tr key={m.id} data-testid="model-row" data-model={m.name}>
                      <td>
                        <Link prefetch={false} href={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                        {m.description ? <div className="muted small">{m.description}</div> : null}
                      </td>
                      <td className="num">{m.versionCount}</td>
                      <td className="num">{m.latestVersion ?? '—'}</td>
                      <td>
                        {Object.entries(m.aliases).map(([alias, v]) => (
                          <span key={alias} className="pill alias" style={{ marginRight: 4 }}>
                            @{alias} → v{v}
                          </span>
                        ))}
                      </td>
                      <td>{formatRelative(m.updatedAt ?? m.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </QueryState>
    </>
  );
}
