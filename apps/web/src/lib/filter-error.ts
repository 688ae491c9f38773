/**
 * Where a filter failed to parse. The API answers BAD_REQUEST with
 * `data.filter = { message, position }`, where `position` is the 1-based column of
 * FilterSyntaxError (libs/api/src/errors.ts); a bare message says "filter syntax
 * error at column N". `position` in the FilterError returned here is a 0-based
 * offset into the filter text, ready for the caret.
 */

export interface FilterError {
  message: string;
  position: number | null;
}

type Loose = Record<string, unknown> | undefined | null;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
}

export function filterErrorOf(err: unknown): FilterError | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as Record<string, unknown>;
  const data = (e.data ?? (e.shape as Loose)?.data) as Loose;
  const code = (data?.code as string | undefined) ?? undefined;
  const f = data?.filter as Loose;
  const cause = e.cause as Loose;
  const message = String((f?.message as string | undefined) ?? e.message ?? 'invalid filter');
  const column = num(f?.position) ?? num(f?.column) ?? num(cause?.column);
  const position = column !== null ? Math.max(0, column - 1) : (num(cause?.position) ?? columnInMessage(message));
  const isFilter = !!f || position !== null || /filter/i.test(message);
  if (!isFilter || (code !== undefined && code !== 'BAD_REQUEST')) return null;
  return { message, position };
}

function columnInMessage(message: string): number | null {
  const m = /at column (\d+)/i.exec(message);
  return m ? Math.max(0, Number(m[1]) - 1) : null;
}

/** A line with a caret under `position` of `text` (clamped to the end). */
export function caretLine(text: string, position: number): string {
  const p = Math.max(0, Math.min(position, text.length));
  // Tabs keep their width so the caret lines up under a monospace rendering.
  return text.slice(0, p).replace(/[^\t]/g, ' ') + '^';
}
