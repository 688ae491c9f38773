/**
 * A tiny, safe markdown parser for run and experiment notes: paragraphs, headings,
 * fenced code, bullet and numbered lists, `code`, *emphasis*, **strong** and
 * [links](https://…). It produces plain data that components/Markdown.tsx turns
 * into React elements, so raw HTML in a note is only ever text, and a link is kept
 * only when its URL is http(s), mailto or a relative path.
 */

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'code'; v: string }
  | { t: 'em'; c: Inline[] }
  | { t: 'strong'; c: Inline[] }
  | { t: 'link'; href: string; c: Inline[] };

export type Block =
  | { t: 'p'; c: Inline[] }
  | { t: 'h'; level: number; c: Inline[] }
  | { t: 'code'; lang: string; v: string }
  | { t: 'ul'; items: Inline[][] }
  | { t: 'ol'; items: Inline[][]; start: number }
  | { t: 'table'; head: Inline[][]; rows: Inline[][][] };

const FENCE = /^\s*(```|~~~)\s*([\w+-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const TABLE_ROW = /^\s*\|.*\|\s*$/;
const TABLE_RULE = /^\s*\|(\s*:?-{3,}:?\s*\|)+\s*$/;

/** `| a | b |` → ['a', 'b'] (a `\|` stays in its cell). */
function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

export function parseMarkdown(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push({ t: 'p', c: parseInline(para.join('\n')) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      i++;
      while (i < lines.length && !new RegExp(`^\\s*${fence[1]}\\s*$`).test(lines[i]!)) body.push(lines[i++]!);
      blocks.push({ t: 'code', lang: fence[2] ?? '', v: body.join('\n') });
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]!)) {
      flush();
      const head = cells(line).map(parseInline);
      const rows: Inline[][][] = [];
      i += 2;
      while (i < lines.length && TABLE_ROW.test(lines[i]!)) rows.push(cells(lines[i++]!).map(parseInline));
      i--;
      blocks.push({ t: 'table', head, rows });
      continue;
    }
    const h = HEADING.exec(line);
    if (h) {
      flush();
      blocks.push({ t: 'h', level: h[1]!.length, c: parseInline(h[2]!.trim()) });
      continue;
    }
    const b = BULLET.exec(line);
    const n = b ? null : NUMBERED.exec(line);
    if (b || n) {
      flush();
      const ordered = !!n;
      const items: Inline[][] = [];
      const start = n ? Number(n[1]) : 1;
      while (i < lines.length) {
        const m = ordered ? NUMBERED.exec(lines[i]!) : BULLET.exec(lines[i]!);
        if (!m) break;
        items.push(parseInline((ordered ? m[2] : m[1])!.trim()));
        i++;
      }
      i--;
      blocks.push(ordered ? { t: 'ol', items, start } : { t: 'ul', items });
      continue;
    }
    para.push(line);
  }
  flush();
  return blocks;
}

/** A URL a note may link to; anything else (javascript:, data:, …) stays text. */
export function safeHref(url: string): string | null {
  const u = url.trim();
  if (/^(https?:|mailto:)/i.test(u)) return u;
  if (/^[/#?]/.test(u) && !u.startsWith('//')) return u;
  return null;
}

export function parseInline(src: string): Inline[] {
  const out: Inline[] = [];
  let text = '';
  const pushText = () => {
    if (text) out.push({ t: 'text', v: text });
    text = '';
  };
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '\\' && i + 1 < src.length && /[\\`*_[\]()#+\-.!]/.test(src[i + 1]!)) {
      text += src[i + 1];
      i += 2;
      continue;
    }
    if (ch === '`') {
      const end = src.indexOf('`', i + 1);
      if (end > i) {
        pushText();
        out.push({ t: 'code', v: src.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if ((ch === '*' || ch === '_') && src[i + 1] === ch) {
      const end = src.indexOf(ch + ch, i + 2);
      if (end > i + 2) {
        pushText();
        out.push({ t: 'strong', c: parseInline(src.slice(i + 2, end)) });
        i = end + 2;
        continue;
      }
    }
    if (ch === '*' || ch === '_') {
      const end = src.indexOf(ch, i + 1);
      // `_` inside a word (snake_case names) is not emphasis.
      const wordy = ch === '_' && i > 0 && /\w/.test(src[i - 1]!);
      if (end > i + 1 && !wordy && src[i + 1] !== ' ') {
        pushText();
        out.push({ t: 'em', c: parseInline(src.slice(i + 1, end)) });
        i = end + 1;
        continue;
      }
    }
    if (ch === '[') {
      const close = src.indexOf('](', i + 1);
      const end = close > i ? src.indexOf(')', close + 2) : -1;
      if (close > i && end > close) {
        const href = safeHref(src.slice(close + 2, end));
        const label = parseInline(src.slice(i + 1, close));
        pushText();
        if (href) out.push({ t: 'link', href, c: label });
        else out.push(...label);
        i = end + 1;
        continue;
      }
    }
    text += ch;
    i++;
  }
  pushText();
  return out;
}

/** The text of a note without markup, e.g. for a one-line preview. */
export function plainText(blocks: Block[]): string {
  const inl = (c: Inline[]): string => c.map((x) => ('v' in x ? x.v : inl(x.c))).join('');
  return blocks
    .map((b) =>
      b.t === 'code' ? b.v : b.t === 'ul' || b.t === 'ol' ? b.items.map(inl).join(' ') : b.t === 'table' ? [b.head, ...b.rows].map((r) => r.map(inl).join(' ')).join(' ') : inl(b.c),
    )
    .join(' ');
}
