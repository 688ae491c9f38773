'use client';
/** /datasets: every dataset with its snapshot count and latest snapshot. */
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { formatBytes, formatRelative, shortId } from '../../lib/format.ts';
import { EmptyState } from '../EmptyState.tsx';
import { QueryState } from '../QueryState.tsx';

export function DatasetsView() {
  const trpc = useTRPC();
  const datasets = useQuery(trpc.datasets.list.queryOptions());
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Datasets</h1>
          <div className="sub">Content-addressed snapshots: a snapshot id names the exact bytes a run saw.</div>
        </div>
      </div>
      <QueryState query={datasets} what="Loading datasets">
        {(list) =>
          list.length === 0 ? (
            <EmptyState title="No datasets yet">
              Snapshot a folder with <code>cairn data snapshot ./data --dataset NAME</code>, or run <code>cairn demo</code>.
            </EmptyState>
          ) : (
            <div className="panel">
              <table className="data" data-testid="datasets">
                <thead>
                  <tr>
                    <th>dataset</th>
                    <th className="num">snapshots</th>
                    <th>latest</th>
                    <th className="num">files</th>
                    <th className="num">size</th>
                    <th>when</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((d) => (
                    <tr key={d.id} data-testid="dataset-row" data-dataset={d.name}>
                      <td>
                        <Link prefetch={false} href={`/datasets/${encodeURIComponent(d.name)}`}>{d.name}</Link>
                      </td>
                      <td className="num">{d.snapshotCount}</td>
                      <td className="mono" title={d.latest?.id}>
                        {d.latest ? shortId(d.latest.id, 12) : '—'}
                      </td>
                      <td className="num">{d.latest ? d.latest.fileCount.toLocaleString() : '—'}</td>
                      <td className="num">{d.latest ? formatBytes(d.latest.bytes) : '—'}</td>
                      <td>{d.latest ? formatRelative(d.latest.createdAt) : '—'}</td>
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
