/**
 * What the runs table keeps in the URL (so a view can be shared and survives a
 * reload): the filter, the sort and the chosen columns; and the run ids of a
 * comparison. Pure encode/decode over URLSearchParams.
 */

export interface SortSpec {
  /** A field of the filter language: `metrics.val_accuracy`, `params.lr`, `created`, … */
  field: string;
  desc: boolean;
}

export interface RunsViewState {
  filter: string;
  sort: SortSpec[];
  /** Chosen extra columns (`params.lr`, `metrics.loss`, `tags.team`); null: the defaults. */
  columns: string[] | null;
  /** Restrict to one experiment (id or name). */
  experiment: string | null;
}

export const EMPTY_VIEW: RunsViewState = { filter: '', sort: [], columns: null, experiment: null };

export const MAX_COMPARE = 100;

/** `metrics.acc desc` → { field, desc }; a bare field sorts ascending. */
export function parseSort(text: string): SortSpec | null {
  const m = /^\s*(\S+)(?:\s+(asc|desc))?\s*$/i.exec(text);
  if (!m || !m[1]) return null;
  return { field: m[1], desc: (m[2] ?? 'asc').toLowerCase() === 'desc' };
}

export function printSort(s: SortSpec): string {
  return `${s.field} ${s.desc ? 'desc' : 'asc'}`;
}

/** The orderBy the API takes (`['metrics.acc desc']`), or undefined for its default (newest first). */
export function orderByOf(sort: SortSpec[]): string[] | undefined {
  return sort.length ? sort.map(printSort) : undefined;
}

export function decodeRunsView(params: URLSearchParams): RunsViewState {
  const sort = params
    .getAll('sort')
    .flatMap((s) => s.split(','))
    .map(parseSort)
    .filter((s): s is SortSpec => s !== null);
  const cols = params.get('cols');
  return {
    filter: params.get('filter') ?? '',
    sort,
    columns: cols === null ? null : cols.split(',').map((c) => c.trim()).filter(Boolean),
    experiment: params.get('experiment') || null,
  };
}

/** Only what differs from the defaults goes into the URL, in a stable order. */
export function encodeRunsView(state: RunsViewState): URLSearchParams {
  const p = new URLSearchParams();
  if (state.experiment) p.set('experiment', state.experiment);
  if (state.filter.trim()) p.set('filter', state.filter.trim());
  if (state.sort.length) p.set('sort', state.sort.map(printSort).join(','));
  if (state.columns !== null) p.set('cols', state.columns.join(','));
  return p;
}

export function runsViewHref(state: RunsViewState, base = '/runs'): string {
  const q = encodeRunsView(state).toString();
  return q ? `${base}?${q}` : base;
}

/** `?ids=a,b,c` → unique non-empty ids, at most MAX_COMPARE. */
export function decodeCompareIds(params: URLSearchParams): string[] {
  const seen = new Set<string>();
  for (const part of params.getAll('ids').flatMap((v) => v.split(','))) {
    const id = part.trim();
    if (id && !seen.has(id)) seen.add(id);
    if (seen.size >= MAX_COMPARE) break;
  }
  return [...seen];
}

export function compareHref(ids: readonly string[]): string {
  return `/compare?ids=${ids.slice(0, MAX_COMPARE).map(encodeURIComponent).join(',')}`;
}

/** Cycles a column's sort: none → desc → asc → none (metrics usually read best-first). */
export function nextSort(current: SortSpec[], field: string): SortSpec[] {
  const now = current.find((s) => s.field === field);
  if (!now) return [{ field, desc: true }];
  if (now.desc) return [{ field, desc: false }];
  return [];
}
