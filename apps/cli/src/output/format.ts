import stringWidth from 'string-width';
import type { RunStatus } from '@cairn/schema';
import { colors } from './io.ts';

// C0/C1 controls and DEL, except newline and tab (handled by the callers).
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text from the store (names, params, reasons, notes) may hold escape sequences;
 * printed raw they would drive the terminal. Controls become U+FFFD.
 */
export function sanitize(text: string): string {
  return text.replace(CONTROL_RE, '\ufffd');
}

/** One line for a table cell: sanitized, whitespace runs (newlines, tabs) collapsed. */
export function oneLine(text: string): string {
  return sanitize(text).replace(/[\t\n]+/g, ' ');
}

/** Cuts text to `width` display columns (wide characters count two), ending in '…'. */
export function truncate(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  if (width <= 1) return width === 1 ? '…' : '';
  let outText = '';
  let used = 0;
  for (const ch of text) {
    const w = stringWidth(ch);
    if (used + w > width - 1) break;
    outText += ch;
    used += w;
  }
  return `${outText}…`;
}

/** A metric value for a table: `digits` significant digits at most; NaN and infinities spelt out. */
export function formatNumber(n: number | null | undefined, digits = 4): string {
  if (n === null || n === undefined) return '';
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e9)) return trimExponent(n.toExponential(digits - 1));
  return String(Number(n.toPrecision(digits)));
}

function trimExponent(s: string): string {
  return s.replace(/\.?0+e/, 'e');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1_000) return `${ms}ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const totalS = Math.round(s);
  const h = Math.floor(totalS / 3_600);
  const m = Math.floor((totalS % 3_600) / 60);
  const sec = totalS % 60;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${sec}s`;
}

/** "3m ago", "2d ago"; the date itself once it is more than 30 days old. */
export function formatRelative(date: Date | null | undefined, now: number = Date.now()): string {
  if (!date) return '';
  const s = Math.round((now - date.getTime()) / 1_000);
  if (s < 0) return formatDate(date);
  if (s < 10) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3_600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h ago`;
  if (s < 30 * 86_400) return `${Math.floor(s / 86_400)}d ago`;
  return formatDate(date);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local calendar date, YYYY-MM-DD. */
export function formatDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Local time, YYYY-MM-DD HH:MM:SS. */
export function formatDateTime(d: Date | null | undefined): string {
  if (!d) return '';
  return `${formatDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function statusStyle(status: RunStatus | string): (s: string) => string {
  switch (status) {
    case 'finished':
      return colors.green;
    case 'failed':
      return colors.red;
    case 'abandoned':
      return colors.yellow;
    case 'cancelled':
      return colors.magenta;
    case 'running':
      return colors.cyan;
    default:
      return colors.dim;
  }
}

/** "failed: loss diverged" — the status with the reason it ended, when there is one. */
export function statusText(status: string, reason: string | null | undefined): string {
  return reason ? `${status}: ${oneLine(reason)}` : status;
}

/** The first `length` characters of a run id (see shortIds for making them unique). */
export function shortId(id: string, length = 8): string {
  return id.slice(0, length);
}
