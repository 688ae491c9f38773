import stringWidth from 'string-width';
import { colors } from './io.ts';
import { oneLine, truncate } from './format.ts';

/** A cell: plain text, or text with a style applied after padding and truncation. */
export type Cell = string | { text: string; style?: (s: string) => string };

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Never wider than this (cells are cut with '…'). */
  max?: number;
  /** May be narrowed down to this to fit the terminal; columns without it keep their width. */
  min?: number;
}

const GAP = '  ';

function cellText(c: Cell | undefined): string {
  if (c === undefined) return '';
  return oneLine(typeof c === 'string' ? c : c.text);
}

/** Column widths: the widest cell, capped by `max`, then narrowed (widest first, down to `min`) to fit `width`. */
export function columnWidths(columns: Column[], rows: Cell[][], width = Number.POSITIVE_INFINITY): number[] {
  // Headers are never cut: `max` caps the cells, not the header.
  const widths = columns.map((col, i) => {
    let w = 0;
    for (const row of rows) w = Math.max(w, stringWidth(cellText(row[i])));
    if (col.max) w = Math.min(w, col.max);
    return Math.max(w, stringWidth(col.header));
  });
  let total = tableWidth(widths);
  while (total > width) {
    let best = -1;
    for (let i = 0; i < columns.length; i++) {
      const min = columns[i]!.min;
      if (min === undefined || widths[i]! <= min) continue;
      if (best < 0 || widths[i]! > widths[best]!) best = i;
    }
    if (best < 0) break;
    widths[best]!--;
    total--;
  }
  return widths;
}

export function tableWidth(widths: number[]): number {
  return widths.reduce((s, w) => s + w, 0) + GAP.length * Math.max(0, widths.length - 1);
}

/**
 * A borderless table in the style of `docker ps`: a header row, columns two
 * spaces apart, numbers right-aligned, no trailing blanks.
 */
export function renderTable(columns: Column[], rows: Cell[][], options: { width?: number } = {}): string {
  const widths = columnWidths(columns, rows, options.width);
  const line = (cells: Cell[], header: boolean) => {
    const parts = columns.map((col, i) => {
      const w = widths[i]!;
      const c = cells[i];
      const text = truncate(cellText(c), w);
      const padding = ' '.repeat(Math.max(0, w - stringWidth(text)));
      const style = header ? colors.bold : typeof c === 'object' ? c.style : undefined;
      const styled = style ? style(text) : text;
      return col.align === 'right' ? padding + styled : styled + padding;
    });
    return parts.join(GAP).trimEnd();
  };
  return [line(columns.map((c) => c.header), true), ...rows.map((r) => line(r, false))].join('\n');
}

/** Aligned `key  value` lines for `runs show`, indented by `indent`. */
export function renderPairs(pairs: [string, Cell][], indent = '  '): string {
  const w = Math.max(0, ...pairs.map(([k]) => stringWidth(k)));
  return pairs
    .map(([k, v]) => {
      const text = typeof v === 'string' ? v : v.text;
      const styled = typeof v === 'object' && v.style ? v.style(text) : text;
      return `${indent}${colors.dim(k.padEnd(w + (k.length - stringWidth(k))))}  ${styled}`.trimEnd();
    })
    .join('\n');
}
