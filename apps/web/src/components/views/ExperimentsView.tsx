'use client';
/** /: every experiment with its runs per status, when it last changed and its best run so far. */
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../lib/trpc.ts';
import { useHydrated } from '../../lib/use-hydrated.ts';
import { formatNumber, formatRelative } from '../../lib/format.ts';
import { runsViewHref, EMPTY_VIEW } from '../../lib/url-state.ts';
import { NoRunsYet } from '../EmptyState.tsx';
import { QueryState } from '../QueryState.tsx';
import { StatusCounts } from '../StatusCounts.tsx';

export function ExperimentsView() {
  const trpc = useTRPC();
  const experiments = useQuery(trpc.experiments.list.queryOptions({}));
  const info = useQuery(trpc.system.info.queryOptions());
  // Shared with the navigation's AccountBox: its answer may be cached before this hydrates.
  const hydrated = useHydrated();
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Experiments</h1>
          <div className="sub">
            Every attempt is kept: finished, failed, abandoned and cancelled runs alike.
            {hydrated && info.data ? (
              <span data-testid="store-engine">
                {' '}
                Store: {info.data.storeDriver}
                {info.data.queues ? ' · queues on' : ' · queues off'}
              </span>
            ) : null}
          </div>
        </div>
        <Link prefetch={false} className="btn" href="/runs">
          All runs
        </Link>
      </div>
      <QueryState query={experiments} what="Loading experiments">
        {(list) =>
          list.length === 0 ? (
            <NoRunsYet />
          ) : (
            <div className="cards" data-testid="experiments">
              {list.map((e) => (
                <article key={e.id} className="card" data-testid="experiment-card" data-experiment={e.name}>
                  <div className="row">
                    <h2>
                      <Link prefetch={false} href={runsViewHref({ ...EMPTY_VIEW, experiment: e.name })}>{e.name}</Link>
                    </h2>
                    <span className="spacer" />
                    {e.archived ? <span className="pill">archived</span> : null}
                  </div>
                  {e.description ? <p className="muted small" style={{ margin: 0 }}>{e.description}</p> : null}
                  <StatusCounts counts={e.statusCounts} />
                  <dl className="kv small">
                    <dt>Runs</dt>
                    <dd data-testid="run-count">{e.runCount}</dd>
                    <dt>Last activity</dt>
                    <dd>{formatRelative(e.lastActivity)}</dd>
                    <dt>Best</dt>
                    <dd data-testid="best">
                      {e.best ? (
                        <>
                          <span className="mono">{e.best.metric}</span> = <strong>{formatNumber(e.best.value)}</strong>{' '}
                          <Link prefetch={false} href={`/runs/${encodeURIComponent(e.best.runId)}`}>run</Link>
                        </>
                      ) : (
                        <span className="muted">no objective yet</span>
                      )}
                    </dd>
                    {e.project && e.project !== 'default' ? (
                      <>
                        <dt>Project</dt>
                        <dd>{typeof e.project === 'string' ? e.project : String(e.project)}</dd>
                      </>
                    ) : null}
                  </dl>
                </article>
              ))}
            </div>
          )
        }
      </QueryState>
    </>
  );
}
