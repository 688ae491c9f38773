/** Formatting shared by every page: numbers, times, sizes, ids. Pure functions. */

export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '—';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(digits)));
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return formatDate(v);
  return String(v);
}

export function toDate(v: Date | string | number | null | undefined): Date | null {
  if (v === null || v === undefined) return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function formatDate(v: Date | string | number | null | undefined): string {
  const d = toDate(v);
  if (!d) return '—';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "3 min ago", "2 h ago", "5 d ago"; falls back to the date after 30 days. */
export function formatRelative(v: Date | string | number | null | undefined, now = Date.now()): string {
  const d = toDate(v);
  if (!d) return '—';
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return formatDate(d);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  if (s < 30 * 86_400) return `${Math.round(s / 86_400)} d ago`;
  return formatDate(d);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  const s = ms / 1000;
  if (s < 1) return `${Math.round(ms)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Duration between two instants; `end` missing means "still going" (measured to now). */
export function runDuration(start: Date | string | null | undefined, end: Date | string | null | undefined, now = Date.now()): number | null {
  const s = toDate(start);
  if (!s) return null;
  const e = toDate(end);
  return (e ? e.getTime() : now) - s.getTime();
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function shortId(id: string | null | undefined, n = 8): string {
  if (!id) return '—';
  return id.length > n ? id.slice(0, n) : id;
}

/**
 * Prefixes that tell a list of ids apart, all of one length (at least `min`, never
 * ending on '-'). Run ids are UUIDv7, whose first 8 hex digits only change every
 * ~65 s: runs of the same minute need more to be told apart.
 */
export function uniquePrefixes(ids: readonly string[], min = 8): Map<string, string> {
  const distinct = [...new Set(ids)];
  let len = min;
  const maxLen = Math.max(0, ...distinct.map((id) => id.length));
  while (len < maxLen && new Set(distinct.map((id) => id.slice(0, len))).size < distinct.length) len++;
  const cut = (id: string) => {
    let n = Math.min(len, id.length);
    while (n < id.length && id[n - 1] === '-') n++;
    return id.slice(0, n);
  };
  return new Map(distinct.map((id) => [id, cut(id)]));
}
