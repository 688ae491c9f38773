import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, parseInline, parseMarkdown, type Block, type Inline } from './markdown.ts';
import { safeHref } from './note-links.ts';

const blocks = (src: string) => parseMarkdown(src).blocks;
const text = (v: string): Inline => ({ t: 'text', v });

describe('markdown notes', () => {
  it('keeps raw HTML as text, never as markup', () => {
    expect(blocks('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>')).toEqual([
      { t: 'p', c: [text('<script>alert(1)</script>')] },
      { t: 'p', c: [text('<img src=x onerror=alert(1)>')] },
    ]);
  });

  it('parses paragraphs, headings, lists, rules and fenced code', () => {
    const src = '# Result\n\nTried **adam** with `lr=0.1`, *worse*.\nSecond line.\n\n- one\n- two\n\n3. a\n4. b\n\n---\n\n```ts\nconst x = 1 < 2;\n```';
    const b = blocks(src);
    expect(b.map((x) => x.t)).toEqual(['h', 'p', 'ul', 'ol', 'hr', 'code']);
    expect(b[0]).toEqual({ t: 'h', level: 1, c: [text('Result')] });
    expect(b[1]).toEqual({
      t: 'p',
      c: [text('Tried '), { t: 'strong', c: [text('adam')] }, text(' with '), { t: 'code', v: 'lr=0.1' }, text(', '), { t: 'em', c: [text('worse')] }, text('.\nSecond line.')],
    });
    expect(b[2]).toEqual({ t: 'ul', items: [[text('one')], [text('two')]] });
    expect(b[3]).toEqual({ t: 'ol', start: 3, items: [[text('a')], [text('b')]] });
    expect(b[5]).toEqual({ t: 'code', lang: 'ts', v: 'const x = 1 < 2;' });
  });

  it('does not treat snake_case as emphasis, nor a lone * between spaces', () => {
    expect(parseInline('val_accuracy and train_loss, 2 * 3 * 4')).toEqual([text('val_accuracy and train_loss, 2 * 3 * 4')]);
  });

  it('nests and mixes emphasis as CommonMark does in the common cases', () => {
    expect(parseInline('**a *b* c**')).toEqual([{ t: 'strong', c: [text('a '), { t: 'em', c: [text('b')] }, text(' c')] }]);
    expect(parseInline('***a***')).toEqual([{ t: 'em', c: [{ t: 'strong', c: [text('a')] }] }]);
    expect(parseInline('_a_ and *b')).toEqual([{ t: 'em', c: [text('a')] }, text(' and *b')]);
  });

  it('undoes backslash escapes outside code, keeps them inside', () => {
    expect(parseInline('\\*not em\\* `a\\*b` \\\\')).toEqual([text('*not em* '), { t: 'code', v: 'a\\*b' }, text(' \\')]);
  });

  it('hides an HTML comment alone on its line', () => {
    expect(blocks('before\n<!-- cairn-gate {"passed":true} -->\nafter')).toEqual([
      { t: 'p', c: [text('before')] },
      { t: 'p', c: [text('after')] },
    ]);
    expect(blocks('<!-- a --> shown')).toEqual([{ t: 'p', c: [text('<!-- a --> shown')] }]);
  });

  it('links to the portal and to http(s) sites, and keeps only the text of any other link', () => {
    expect(parseInline('[run](/runs/abc) [paper](https://arxiv.org/abs/1) [x](javascript:alert(1)) [y](/\\\\evil.example)')).toEqual([
      { t: 'link', href: '/runs/abc', external: false, c: [text('run')] },
      text(' '),
      { t: 'link', href: 'https://arxiv.org/abs/1', external: true, c: [text('paper')] },
      // A destination ends at the first ')' (no nested parentheses): the second stays text.
      text(' x) y'),
    ]);
  });

  it('links bare http(s) URLs, without the punctuation that ends a sentence', () => {
    expect(parseInline('see https://example.com/a_(b). Or (http://x.test/).')).toEqual([
      text('see '),
      { t: 'link', href: 'https://example.com/a_(b)', external: true, c: [text('https://example.com/a_(b)')] },
      text('. Or ('),
      { t: 'link', href: 'http://x.test/', external: true, c: [text('http://x.test/')] },
      text(').'),
    ]);
  });

  it('keeps the text but not the markup of emphasis nested past MAX_DEPTH', () => {
    const depth = (nodes: Inline[]): number => Math.max(0, ...nodes.map((n) => ('c' in n ? 1 + depth(n.c) : 0)));
    const n = MAX_DEPTH + 20;
    const out = parseInline(`${'*a '.repeat(n)}b${' c*'.repeat(n)}`);
    expect(depth(out)).toBe(MAX_DEPTH);
    const flat = (nodes: Inline[]): string => nodes.map((x) => ('v' in x ? x.v : flat(x.c))).join('');
    expect(flat(out)).toBe(`${'a '.repeat(n)}b${' c'.repeat(n)}`);
  });
});

describe('markdown the pipeline writes', () => {
  it("renders a gate note: long fences, code spans with backtick runs, escaped pipes, the comment hidden", () => {
    // What libs/pipeline's gateNote writes for a metric key with backticks and a tag with a pipe.
    const note = [
      '**ci gate failed**',
      '',
      '````text',
      "metrics.`a``b` > 1 and tags.t = 'x|y--z' and x = ```",
      '````',
      '',
      '| field | value |',
      '| --- | --- |',
      '| ``` metrics.`a``b` ``` | _missing_ |',
      '| `tags.t` | `x\\|y--z` |',
      '',
      'Failed because the run has no usable value for ``` metrics.`a``b` ``` (a gate fails when a metric it names is missing or NaN).',
      '',
      '<!-- cairn-gate {"tier":"ci","passed":false} -->',
    ].join('\n');
    expect(blocks(note)).toEqual<Block[]>([
      { t: 'p', c: [{ t: 'strong', c: [text('ci gate failed')] }] },
      { t: 'code', lang: 'text', v: "metrics.`a``b` > 1 and tags.t = 'x|y--z' and x = ```" },
      {
        t: 'table',
        align: [null, null],
        head: [[text('field')], [text('value')]],
        rows: [
          [[{ t: 'code', v: 'metrics.`a``b`' }], [{ t: 'em', c: [text('missing')] }]],
          [[{ t: 'code', v: 'tags.t' }], [{ t: 'code', v: 'x|y--z' }]],
        ],
      },
      { t: 'p', c: [text('Failed because the run has no usable value for '), { t: 'code', v: 'metrics.`a``b`' }, text(' (a gate fails when a metric it names is missing or NaN).')] },
    ]);
  });

  it('renders a sweep leaderboard: aligned columns, short rows padded, long rows cut', () => {
    const note = '## Sweep leaderboard\n\n| rank | run | lr |\n|---:|---|:-:|\n| 1 | r1 | 0.1 |\n| 2 | r2 |\n| 3 | r3 | 0.3 | extra |';
    const [h, table] = blocks(note);
    expect(h).toEqual({ t: 'h', level: 2, c: [text('Sweep leaderboard')] });
    expect(table).toEqual({
      t: 'table',
      align: ['right', null, 'center'],
      head: [[text('rank')], [text('run')], [text('lr')]],
      rows: [
        [[text('1')], [text('r1')], [text('0.1')]],
        [[text('2')], [text('r2')], []],
        [[text('3')], [text('r3')], [text('0.3')]],
      ],
    });
  });
});

describe('a note past the budgets', () => {
  it('formats blocks until the node budget runs out, and returns the rest as written', () => {
    // 'a' is one node, '*b*' three (two delimiters and the text between): four in all.
    expect(parseMarkdown('a\n\n*b*\n\nc **d**\n\ne', { nodes: 4 })).toEqual({
      blocks: [
        { t: 'p', c: [text('a')] },
        { t: 'p', c: [{ t: 'em', c: [text('b')] }] },
      ],
      rest: 'c **d**\n\ne',
    });
  });

  it('formats up to the character budget, cut at a line break', () => {
    const note = `${'x'.repeat(100)}\n${'y'.repeat(100)}`;
    expect(parseMarkdown(note, { chars: 150 })).toEqual({ blocks: [{ t: 'p', c: [text('x'.repeat(100))] }], rest: 'y'.repeat(100) });
    // One line longer than the budget is cut inside, never between the halves of a character.
    const emoji = `${'a'.repeat(9)}😀${'b'.repeat(10)}`;
    const { blocks: b, rest } = parseMarkdown(emoji, { chars: 10 });
    expect(b).toEqual([{ t: 'p', c: [text('a'.repeat(9))] }]);
    expect(rest).toBe(`😀${'b'.repeat(10)}`);
  });

  it('returns no rest when the whole note was formatted', () => {
    expect(parseMarkdown('short').rest).toBeNull();
  });
});

describe('markdown parser on random input', () => {
  /** mulberry32: a fixed seed, so a failure reproduces. */
  function rng(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const PIECES = ['*', '**', '_', '__', '`', '``', '[', ']', '(', ')', '](', '\\', '|', '\n', '\n\n', ' ', 'a', 'b_c', 'http://', 'https://x.test/', '/', '//', '#', '- ', '1. ', '```', '| --- |', '<!--', '-->', 'javascript:', '\t'];

  it('never throws, never nests a link in a link, and only makes links safeHref allows, unchanged', () => {
    const random = rng(13);
    for (let n = 0; n < 2000; n++) {
      let src = '';
      const len = 1 + Math.floor(random() * 60);
      for (let k = 0; k < len; k++) src += PIECES[Math.floor(random() * PIECES.length)]!;
      const { blocks: b } = parseMarkdown(src);
      const check = (nodes: Inline[], inLink: boolean) => {
        for (const node of nodes) {
          if (node.t === 'link') {
            expect(inLink, src).toBe(false);
            expect(safeHref(node.href), src).toEqual({ href: node.href, external: node.external });
          }
          if ('c' in node) check(node.c, inLink || node.t === 'link');
        }
      };
      for (const block of b) {
        if ('c' in block) check(block.c, false);
        if (block.t === 'ul' || block.t === 'ol') block.items.forEach((it) => check(it, false));
        if (block.t === 'table') [block.head, ...block.rows].flat().forEach((cell) => check(cell, false));
      }
    }
  });
});
