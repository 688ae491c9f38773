import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/** One SQL statement the store sent, with its parameters and how long it took. */
export interface TracedQuery {
  text: string;
  params: unknown[];
  ms: number;
  /** Runs more SQL on the same engine (PostgreSQL: the pool; PGlite: the store's own instance). */
  rerun(text: string, params: unknown[]): Promise<Record<string, unknown>[]>;
}

type QueryFn = (this: unknown, ...args: unknown[]) => Promise<unknown>;

/**
 * Records every statement the store sends while `fn` runs, by wrapping the query
 * method of pg.Pool and PGlite (the drivers the store's drizzle instances call).
 * For diagnostics only (--explain): never active while a benchmark is being timed.
 */
export async function traceQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: TracedQuery[] }> {
  const queries: TracedQuery[] = [];
  const poolProto = pg.Pool.prototype as unknown as { query: QueryFn };
  const liteProto = PGlite.prototype as unknown as { query: QueryFn };
  const poolQuery = poolProto.query;
  const hadOwnLite = Object.prototype.hasOwnProperty.call(liteProto, 'query');
  const liteQuery = liteProto.query;

  const wrap = (orig: QueryFn, textOf: (args: unknown[]) => { text: string; params: unknown[] }, kind: 'pg' | 'pglite'): QueryFn =>
    async function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      const out = await orig.apply(this, args);
      const { text, params } = textOf(args);
      const self = this;
      queries.push({
        text,
        params,
        ms: performance.now() - t,
        async rerun(sql, ps) {
          const r = (await orig.apply(self, kind === 'pg' ? [sql, ps] : [sql, ps, {}])) as { rows: Record<string, unknown>[] };
          return r.rows;
        },
      });
      return out;
    };

  poolProto.query = wrap(
    poolQuery,
    (args) => {
      const first = args[0] as string | { text: string; values?: unknown[] };
      const text = typeof first === 'string' ? first : first.text;
      const params = (Array.isArray(args[1]) ? args[1] : typeof first === 'object' ? first.values : undefined) ?? [];
      return { text, params: params as unknown[] };
    },
    'pg',
  );
  liteProto.query = wrap(liteQuery, (args) => ({ text: args[0] as string, params: (args[1] as unknown[] | undefined) ?? [] }), 'pglite');
  try {
    const result = await fn();
    return { result, queries };
  } finally {
    poolProto.query = poolQuery;
    if (hadOwnLite) liteProto.query = liteQuery;
    else delete (liteProto as { query?: QueryFn }).query;
  }
}
