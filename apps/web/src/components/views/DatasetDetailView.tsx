'use client';
/**
 * /datasets/[name]: the dataset's snapshots, newest first. Pick two (A → B) to see
 * the files that changed and how the profile drifted (class balance, missing values).
 */
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { formatBytes, formatDate, shortId } from '../../lib/format.ts';
import { lineageHref } from '../../lib/lineage-layout.ts';
import { SnapshotDiff } from '../SnapshotDiff.tsx';
import { ProfileDrift } from '../ProfileDrift.tsx';
import { EmptyState } from '../EmptyState.tsx';
import { ErrorBox, isNotFound, Loading } from '../QueryState.tsx';

export function DatasetDetailView({ name }: { name: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const params = useSearchParams();
  const snapshots = useQuery(trpc.datasets.snapshots.queryOptions({ dataset: name, limit: 500 }));
  const list = snapshots.data ?? [];
  const a = params?.get('a') ?? list[1]?.id ?? null;
  const b = params?.get('b') ?? list[0]?.id ?? null;
  const pick = (side: 'a' | 'b', id: string) => {
    const q = new URLSearchParams(params?.toString() ?? '');
    if (a) q.set('a', a);
    if (b) q.set('b', b);
    q.set(side, id);
    router.replace(`/datasets/${encodeURIComponent(name)}?${q.toString()}`, { scroll: false });
  };

  return (
    <>
      <div className="page-head">
        <div>
          <div className="crumbs">
            <Link prefetch={false} href="/datasets">Datasets</Link>
          </div>
          <h1>{name}</h1>
          <div className="sub">{snapshots.data ? `${list.length} snapshot${list.length === 1 ? '' : 's'}` : ''}</div>
        </div>
        {list[0] ? (
          <Link prefetch={false} className="btn" href={lineageHref('dataset', list[0].datasetId, 'downstream')}>
            Lineage
          </Link>
        ) : null}
      </div>
      {snapshots.error ? (
        isNotFound(snapshots.error) ? (
          <EmptyState title="No such dataset">
            <Link prefetch={false} href="/datasets">Back to the datasets</Link>
          </EmptyState>
        ) : (
          <ErrorBox error={snapshots.error} />
        )
      ) : null}
      {snapshots.isPending ? <Loading what="Loading snapshots" /> : null}
      {snapshots.data && list.length === 0 ? <EmptyState title="No snapshots yet">Record one with <code>cairn data snapshot ./data --dataset {name}</code>.</EmptyState> : null}
      {list.length ? (
        <section className="panel" aria-labelledby="snaps-h">
          <h2 id="snaps-h">Snapshots</h2>
          <div className="table-scroll">
            <table className="data" data-testid="snapshots">
              <thead>
                <tr>
                  <th title="compare from">A</th>
                  <th title="compare to">B</th>
                  <th>snapshot</th>
                  <th>message</th>
                  <th className="num">files</th>
                  <th className="num">size</th>
                  <th>created</th>
                </tr>
              </thead>
              <tbody>
                {list.map((s) => (
                  <tr key={s.id} data-testid="snapshot-row" data-snapshot={s.id}>
                    <td>
                      <input type="radio" name="snap-a" aria-label={`Compare from ${shortId(s.id, 12)}`} checked={a === s.id} onChange={() => pick('a', s.id)} data-testid="pick-a" />
                    </td>
                    <td>
                      <input type="radio" name="snap-b" aria-label={`Compare to ${shortId(s.id, 12)}`} checked={b === s.id} onChange={() => pick('b', s.id)} data-testid="pick-b" />
                    </td>
                    <td className="mono">
                      <Link prefetch={false} href={lineageHref('snapshot', s.id, 'downstream')} title={s.id}>
                        {shortId(s.id, 12)}
                      </Link>
                    </td>
                    <td>{s.message || <span className="muted">—</span>}</td>
                    <td className="num">{s.fileCount.toLocaleString()}</td>
                    <td className="num">{formatBytes(s.bytes)}</td>
                    <td>{formatDate(s.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      {a && b && a !== b ? (
        <>
          <section className="panel" aria-labelledby="diff-h">
            <h2 id="diff-h">
              Files: <span className="mono">{shortId(a, 12)}</span> → <span className="mono">{shortId(b, 12)}</span>
            </h2>
            <SnapshotDiff a={a} b={b} />
          </section>
          <section className="panel" aria-labelledby="drift-h">
            <h2 id="drift-h">Profile drift</h2>
            <ProfileDrift a={a} b={b} />
          </section>
        </>
      ) : list.length === 1 ? (
        <p className="muted small">One snapshot so far: a second one can be compared with it.</p>
      ) : null}
    </>
  );
}
