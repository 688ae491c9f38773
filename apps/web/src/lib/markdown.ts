/**
 * The markdown of run and experiment notes: paragraphs, headings, fenced code, bullet and
 * numbered lists, rules, pipe tables (the pipeline's gate and sweep notes), `code` with
 * backtick runs of any length, *emphasis*, **strong**, [links](…) and bare http(s) URLs.
 * It produces plain data that components/Markdown.tsx turns into React elements, so raw
 * HTML in a note is only ever text; links are checked by note-links.ts.
 *
 * A note may be 1 MiB (the API's maximum), so the parser is linear in the note's length:
 * every character is looked at a bounded number of times. Unclosed delimiters never send
 * it back over the text: a code span's closer is looked up in an index of backtick runs,
 * emphasis is matched on a stack per delimiter character, and a link's destination ends
 * at the first ')' or space (no nested parentheses, no titles).
 *
 * Linear is not enough for a page that must stay responsive: a 1 MiB note can make a few
 * hundred thousand elements, and React alone takes about 200 ms to render 1 MiB of text
 * full of '<', '>' and '&' (each escaped) on the server. So a note is formatted up to
 * CHAR_BUDGET characters and NODE_BUDGET nodes, whichever comes first, and the rest is
 * returned as written, for the page to show as plain text on request.
 *
 * Known differences from CommonMark, kept for linearity and simplicity: no block quotes,
 * nested lists, setext headings, indented code or character references; emphasis ignores
 * the "multiple of 3" rule; an image is its `!` and a link.
 */
import { safeHref } from './note-links.ts';

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'code'; v: string }
  | { t: 'em'; c: Inline[] }
  | { t: 'strong'; c: Inline[] }
  | { t: 'link'; href: string; external: boolean; c: Inline[] };

export type Align = 'left' | 'center' | 'right' | null;

export type Block =
  | { t: 'p'; c: Inline[] }
  | { t: 'h'; level: number; c: Inline[] }
  | { t: 'code'; lang: string; v: string }
  | { t: 'ul'; items: Inline[][] }
  | { t: 'ol'; items: Inline[][]; start: number }
  | { t: 'hr' }
  | { t: 'table'; align: Align[]; head: Inline[][]; rows: Inline[][][] };

export interface ParsedNote {
  blocks: Block[];
  /** The note from the first block past a budget on, as written; null when all of it was formatted. */
  rest: string | null;
}

/**
 * How much of a note is formatted: far more than any note the pipeline writes (a gate note
 * is under 2 KiB; a 100-row sweep leaderboard about 20 KiB and 2,000 nodes) or a person
 * types, little enough to parse and render in a few ms.
 */
export const CHAR_BUDGET = 64 * 1024;
export const NODE_BUDGET = 10_000;

/** Emphasis and links deeper than this keep their text but lose their markup (React renders recursively). */
export const MAX_DEPTH = 32;

class OverBudget extends Error {}

class Budget {
  constructor(public left: number) {}
  spend(n = 1): void {
    this.left -= n;
    if (this.left < 0) throw new OverBudget();
  }
}

// ---------------------------------------------------------------------------------------
// blocks

interface Fence {
  char: string;
  length: number;
  lang: string;
}

/** A fence line: 3+ backticks or tildes, then an info string (no backticks after backticks). */
function fenceOpen(line: string): Fence | null {
  const t = line.trim();
  const char = t[0];
  if (char !== '`' && char !== '~') return null;
  let n = 0;
  while (t[n] === char) n++;
  if (n < 3) return null;
  const info = t.slice(n).trim();
  if (char === '`' && info.includes('`')) return null;
  return { char, length: n, lang: info.split(/\s/, 1)[0] ?? '' };
}

function fenceCloses(line: string, fence: Fence): boolean {
  const t = line.trim();
  if (t.length < fence.length) return false;
  for (let i = 0; i < t.length; i++) if (t[i] !== fence.char) return false;
  return true;
}

function heading(line: string): { level: number; text: string } | null {
  const t = line.trimStart();
  let n = 0;
  while (n < 7 && t[n] === '#') n++;
  if (n < 1 || n > 6 || (n < t.length && t[n] !== ' ' && t[n] !== '\t')) return null;
  return { level: n, text: t.slice(n).trim() };
}

/** `---`, `***` or `___` (spaces allowed between). */
function isRule(line: string): boolean {
  const first = line.trimStart()[0];
  if (first !== '-' && first !== '*' && first !== '_') return false;
  const t = line.replace(/[ \t]/g, '');
  if (t.length < 3 || !'-*_'.includes(t[0]!)) return false;
  for (let i = 1; i < t.length; i++) if (t[i] !== t[0]) return false;
  return true;
}

function bullet(line: string): string | null {
  const t = line.trimStart();
  return (t[0] === '-' || t[0] === '*' || t[0] === '+') && (t[1] === ' ' || t[1] === '\t') ? t.slice(2).trim() : null;
}

function numbered(line: string): { n: number; text: string } | null {
  const m = /^\s*(\d{1,9})[.)][ \t]/.exec(line);
  return m ? { n: Number(m[1]), text: line.slice(m[0].length).trim() } : null;
}

/** An HTML comment alone on its line (e.g. the pipeline's `<!-- cairn-gate … -->`): not shown, as in any markdown viewer. */
function isComment(line: string): boolean {
  const t = line.trim();
  return t.startsWith('<!--') && t.indexOf('-->') === t.length - 3 && t.length >= 7;
}

function isTableRow(line: string): boolean {
  const t = line.trim();
  return t.length >= 2 && t[0] === '|' && t.at(-1) === '|';
}

/** `| a | b \| c |` → ['a', 'b | c']: a `\|` stays in its cell (GFM: even inside code). */
function cells(line: string): string[] {
  const t = line.trim();
  const inner = t.slice(1, t.at(-2) === '\\' ? t.length : -1);
  const out: string[] = [];
  let from = 0;
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '|' && inner[i - 1] !== '\\') {
      out.push(inner.slice(from, i));
      from = i + 1;
    }
  }
  out.push(inner.slice(from));
  return out.map((c) => c.trim().replaceAll('\\|', '|'));
}

/** The alignment of each column from a rule line (`| :-- | --: | :-: |`), or null when it is not one. */
function tableRule(line: string): Align[] | null {
  if (!isTableRow(line)) return null;
  const align: Align[] = [];
  for (const c of cells(line)) {
    if (!/^:?-+:?$/.test(c)) return null;
    align.push(c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : null);
  }
  return align;
}

/** Where formatting stops: at the last line break before `chars`, or at `chars` when a line is longer than half of it. */
function cutAt(text: string, chars: number): number {
  if (text.length <= chars) return text.length;
  const nl = text.lastIndexOf('\n', chars);
  if (nl > chars / 2) return nl;
  const low = text.charCodeAt(chars);
  return low >= 0xdc00 && low <= 0xdfff ? chars - 1 : chars; // not between the halves of a surrogate pair
}

export function parseMarkdown(src: string, { chars = CHAR_BUDGET, nodes = NODE_BUDGET }: { chars?: number; nodes?: number } = {}): ParsedNote {
  const text = src.includes('\r') ? src.replace(/\r\n?/g, '\n') : src;
  const cut = cutAt(text, chars);
  const lines = text.slice(0, cut).split('\n');
  const budget = new Budget(nodes);
  const blocks: Block[] = [];
  let para: string[] = [];
  let paraStart = 0;
  const flush = () => {
    if (para.length) blocks.push({ t: 'p', c: inline(para.join('\n'), budget) });
    para = [];
  };
  /** Where line `n` starts in `text`: computed once, when the budget runs out. */
  const offsetOf = (n: number) => {
    let at = 0;
    for (let k = 0; k < n; k++) at += lines[k]!.length + 1;
    return at;
  };

  let i = 0;
  let start = 0;
  try {
    for (; i < lines.length; i++) {
      const line = lines[i]!;
      start = para.length ? paraStart : i;
      if (!line) {
        flush();
        continue;
      }
      const fence = fenceOpen(line);
      if (fence) {
        flush();
        start = i;
        budget.spend();
        const body: string[] = [];
        for (i++; i < lines.length && !fenceCloses(lines[i]!, fence); i++) body.push(lines[i]!);
        blocks.push({ t: 'code', lang: fence.lang, v: body.join('\n') });
        continue;
      }
      if (!line.trim() || isComment(line)) {
        flush();
        continue;
      }
      const align = isTableRow(line) && i + 1 < lines.length ? tableRule(lines[i + 1]!) : null;
      const head = align ? cells(line) : null;
      if (align && head && head.length === align.length) {
        flush();
        start = i;
        budget.spend(head.length);
        const row = (cs: string[]) => Array.from({ length: align.length }, (_, k) => inline(cs[k] ?? '', budget));
        const table: Block = { t: 'table', align, head: row(head), rows: [] };
        for (i += 2; i < lines.length && isTableRow(lines[i]!); i++) {
          budget.spend(align.length);
          table.rows.push(row(cells(lines[i]!)));
        }
        i--;
        blocks.push(table);
        continue;
      }
      const h = heading(line);
      if (h) {
        flush();
        start = i;
        blocks.push({ t: 'h', level: h.level, c: inline(h.text, budget) });
        continue;
      }
      if (isRule(line)) {
        flush();
        start = i;
        budget.spend();
        blocks.push({ t: 'hr' });
        continue;
      }
      const b = bullet(line);
      const n = b === null ? numbered(line) : null;
      if (b !== null || n) {
        flush();
        start = i;
        const items: Inline[][] = [];
        for (; i < lines.length; i++) {
          const item = n ? numbered(lines[i]!)?.text : bullet(lines[i]!);
          if (item === undefined || item === null || isRule(lines[i]!)) break;
          budget.spend();
          items.push(inline(item, budget));
        }
        i--;
        blocks.push(n ? { t: 'ol', items, start: n.n } : { t: 'ul', items });
        continue;
      }
      if (!para.length) paraStart = i;
      para.push(line);
    }
    start = paraStart;
    flush();
  } catch (e) {
    if (!(e instanceof OverBudget)) throw e;
    return { blocks, rest: text.slice(offsetOf(start)) };
  }
  return { blocks, rest: cut < text.length ? text.slice(text[cut] === '\n' ? cut + 1 : cut) : null };
}

// ---------------------------------------------------------------------------------------
// inlines

type Tag = 'em' | 'strong';

/** A run of `*` or `_` that may open or close emphasis; `count` is what is left of it as text. */
interface Delim {
  k: 'delim';
  ch: '*' | '_';
  count: number;
  canOpen: boolean;
  canClose: boolean;
  /** Its index in the pending delimiter list, to tell which of two delimiters came first. */
  seq: number;
  /** Tags it opens, innermost first. */
  opens: Tag[];
  /** Tags it closes, innermost first. */
  closes: Tag[];
}

/** A `[`: text unless a `](…)` closes it into a link. */
interface Bracket {
  k: 'bracket';
  link: { href: string; external: boolean } | null;
  /** True when its link was refused: the brackets and destination vanish, the text stays. */
  dropped: boolean;
}

type Item = { k: 'text'; v: string } | { k: 'code'; v: string } | { k: 'linkEnd' } | Delim | Bracket;

const PUNCT_ASCII = /[!-/:-@[-`{-~]/;
/** A backslash escape: the backslash goes, the ASCII punctuation after it stays as text. */
const ESCAPE = /\\([!-/:-@[-`{-~])/g;
const SPACE = /\s/u;
const PUNCT = /[\p{P}\p{S}]/u;

/** Positions of every maximal backtick run, by length: a code span's closer is the next run of the opener's length. */
class BacktickRuns {
  private readonly runs = new Map<number, number[]>();
  private readonly cursor = new Map<number, number>();
  constructor(s: string) {
    for (let i = s.indexOf('`'); i !== -1; ) {
      let j = i;
      while (s.charCodeAt(j) === 96) j++;
      const list = this.runs.get(j - i);
      if (list) list.push(i);
      else this.runs.set(j - i, [i]);
      i = s.indexOf('`', j);
    }
  }
  /** The first run of exactly `length` starting at or after `from`; asked with growing `from`, so each list is walked once. */
  next(length: number, from: number): number {
    const list = this.runs.get(length);
    if (!list) return -1;
    let k = this.cursor.get(length) ?? 0;
    while (k < list.length && list[k]! < from) k++;
    this.cursor.set(length, k);
    return k < list.length ? list[k]! : -1;
  }
}

/** Matches emphasis among `delims[bottom..]`, innermost first; delimiters between a matched pair are left as text. */
function processEmphasis(delims: Delim[], bottom: number): void {
  if (delims.length === bottom) return;
  const openers = { '*': [] as Delim[], _: [] as Delim[] };
  for (let k = bottom; k < delims.length; k++) {
    const d = delims[k]!;
    const own = openers[d.ch];
    const other = openers[d.ch === '*' ? '_' : '*'];
    if (d.canClose) {
      while (d.count > 0 && own.length) {
        const o = own.at(-1)!;
        const n = o.count >= 2 && d.count >= 2 ? 2 : 1;
        const tag: Tag = n === 2 ? 'strong' : 'em';
        o.count -= n;
        d.count -= n;
        o.opens.push(tag);
        d.closes.push(tag);
        while (other.length && other.at(-1)!.seq > o.seq) other.pop();
        if (o.count === 0) own.pop();
      }
    }
    if (d.count > 0 && d.canOpen) own.push(d);
  }
}

/** CommonMark's flanking rules: whether a delimiter run between `before` and `after` may open or close emphasis. */
function flanking(ch: string, before: string, after: string): { canOpen: boolean; canClose: boolean } {
  const wsBefore = before === '' || SPACE.test(before);
  const wsAfter = after === '' || SPACE.test(after);
  const pBefore = PUNCT.test(before);
  const pAfter = PUNCT.test(after);
  const left = !wsAfter && (!pAfter || wsBefore || pBefore);
  const right = !wsBefore && (!pBefore || wsAfter || pAfter);
  // '_' inside a word (snake_case names) is not emphasis.
  if (ch === '_') return { canOpen: left && (!right || pBefore), canClose: right && (!left || pAfter) };
  return { canOpen: left, canClose: right };
}

/** The end of a bare http(s) URL starting at `i`: up to whitespace or '<', less trailing punctuation and unmatched ')'. */
function autolinkEnd(s: string, i: number): number {
  let end = i;
  while (end < s.length && !SPACE.test(s[end]!) && s[end] !== '<') end++;
  let open = 0;
  let close = 0;
  for (let k = i; k < end; k++) {
    if (s[k] === '(') open++;
    else if (s[k] === ')') close++;
  }
  for (;;) {
    const last = s[end - 1]!;
    if ('?!.,:*_~\'"'.includes(last)) end--;
    else if (last === ')' && close > open) {
      end--;
      close--;
    } else return end;
  }
}

export function parseInline(src: string, nodes = NODE_BUDGET): Inline[] {
  return inline(src, new Budget(nodes));
}

function inline(s: string, budget: Budget): Inline[] {
  const items: Item[] = [];
  const delims: Delim[] = [];
  const brackets: { item: Bracket; bottom: number }[] = [];
  const ticks = new BacktickRuns(s);
  // Where the pending text starts; its escapes are undone when it is flushed (the scan below skips what they escape).
  let from = 0;
  let escaped = false;
  const push = (item: Item) => {
    budget.spend();
    items.push(item);
  };
  const flush = (to: number) => {
    const v = escaped ? s.slice(from, to).replace(ESCAPE, '$1') : s.slice(from, to);
    escaped = false;
    if (v) push({ k: 'text', v });
  };
  // The next ')' or whitespace at or after a position, cached: a run of '](' without either is scanned once.
  let stopFrom = -1;
  let stopAt = -1;
  const nextStop = (p: number) => {
    if (p >= stopFrom && p <= stopAt) return stopAt;
    let q = p;
    while (q < s.length && s[q] !== ')' && !SPACE.test(s[q]!)) q++;
    stopFrom = p;
    stopAt = q;
    return q;
  };

  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length && PUNCT_ASCII.test(s[i + 1]!)) {
      escaped = true;
      i += 2;
    } else if (c === '`') {
      let j = i;
      while (s[j] === '`') j++;
      const n = j - i;
      const close = ticks.next(n, j);
      if (close === -1) {
        i = j;
        continue;
      }
      flush(i);
      let v = s.slice(j, close).replaceAll('\n', ' ');
      if (v.length > 2 && v.startsWith(' ') && v.endsWith(' ') && v.trim()) v = v.slice(1, -1);
      push({ k: 'code', v });
      i = close + n;
      from = i;
    } else if (c === '*' || c === '_') {
      let j = i;
      while (s[j] === c) j++;
      const { canOpen, canClose } = flanking(c, s[i - 1] ?? '', s[j] ?? '');
      if (canOpen || canClose) {
        flush(i);
        const d: Delim = { k: 'delim', ch: c, count: j - i, canOpen, canClose, seq: delims.length, opens: [], closes: [] };
        push(d);
        delims.push(d);
        from = j;
      }
      i = j;
    } else if (c === '[') {
      flush(i);
      const item: Bracket = { k: 'bracket', link: null, dropped: false };
      push(item);
      brackets.push({ item, bottom: delims.length });
      i++;
      from = i;
    } else if (c === ']' && brackets.length) {
      const open = brackets.pop()!;
      const stop = s[i + 1] === '(' ? nextStop(i + 2) : -1;
      if (stop <= i + 2 || s[stop] !== ')') {
        i++; // not a link: its '[' and this ']' stay text
        continue;
      }
      flush(i);
      processEmphasis(delims, open.bottom);
      delims.length = open.bottom;
      const dest = s.slice(i + 2, stop);
      open.item.link = safeHref(dest.includes('\\') ? dest.replace(ESCAPE, '$1') : dest);
      if (open.item.link) {
        push({ k: 'linkEnd' });
        brackets.length = 0; // no links inside links: earlier '[' stay text
      } else open.item.dropped = true;
      i = stop + 1;
      from = i;
    } else if ((c === 'h' || c === 'H') && !brackets.length && /^https?:\/\//i.test(s.slice(i, i + 8)) && (i === 0 || /[\s(*_~]/.test(s[i - 1]!))) {
      const end = autolinkEnd(s, i);
      const link = safeHref(s.slice(i, end));
      if (link) {
        flush(i);
        const item: Bracket = { k: 'bracket', link, dropped: false };
        push(item);
        push({ k: 'text', v: s.slice(i, end) });
        push({ k: 'linkEnd' });
      }
      // A refused URL stays text, skipped whole so that it is not looked at again.
      i = Math.max(end, i + 1);
      if (link) from = i;
    } else i++;
  }
  flush(s.length);
  processEmphasis(delims, 0);
  return build(items);
}

/** The tree from the flat items: matched delimiters and links open and close nodes. */
function build(items: Item[]): Inline[] {
  const root: Inline[] = [];
  // A frame past MAX_DEPTH shares its parent's children: the text stays, the markup goes.
  const stack: { c: Inline[]; real: boolean }[] = [{ c: root, real: true }];
  let depth = 0;
  const text = (v: string) => {
    if (!v) return;
    const c = stack.at(-1)!.c;
    const last = c.at(-1);
    if (last?.t === 'text') last.v += v;
    else c.push({ t: 'text', v });
  };
  const open = (node: Extract<Inline, { c: Inline[] }>) => {
    const top = stack.at(-1)!;
    if (depth >= MAX_DEPTH) {
      stack.push({ c: top.c, real: false });
      return;
    }
    top.c.push(node);
    stack.push({ c: node.c, real: true });
    depth++;
  };
  const close = () => {
    if (stack.pop()!.real) depth--;
  };
  for (const item of items) {
    switch (item.k) {
      case 'text':
        text(item.v);
        break;
      case 'code':
        stack.at(-1)!.c.push({ t: 'code', v: item.v });
        break;
      case 'delim':
        for (let k = 0; k < item.closes.length; k++) close();
        text(item.ch.repeat(item.count));
        for (let k = item.opens.length - 1; k >= 0; k--) open({ t: item.opens[k]!, c: [] });
        break;
      case 'bracket':
        if (item.link) open({ t: 'link', href: item.link.href, external: item.link.external, c: [] });
        else if (!item.dropped) text('[');
        break;
      case 'linkEnd':
        close();
        break;
    }
  }
  return root;
}
