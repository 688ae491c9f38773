import { describe, expect, it } from 'vitest';
import { parseInline, parseMarkdown, plainText, safeHref } from './markdown.ts';

describe('markdown notes', () => {
  it('keeps raw HTML as text, never as markup', () => {
    const blocks = parseMarkdown('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>');
    expect(blocks).toEqual([
      { t: 'p', c: [{ t: 'text', v: '<script>alert(1)</script>' }] },
      { t: 'p', c: [{ t: 'text', v: '<img src=x onerror=alert(1)>' }] },
    ]);
  });

  it('drops unsafe link targets but keeps their text', () => {
    expect(parseInline('[click](javascript:alert(1))')).toEqual([{ t: 'text', v: 'click' }, { t: 'text', v: ')' }]);
    expect(parseInline('[x](data:text/html,hi)')).toEqual([{ t: 'text', v: 'x' }]);
    expect(parseInline('[run](/runs/abc)')).toEqual([{ t: 'link', href: '/runs/abc', c: [{ t: 'text', v: 'run' }] }]);
    expect(safeHref('https://example.com/a')).toBe('https://example.com/a');
    expect(safeHref('//evil.example')).toBeNull();
    expect(safeHref(' JavaScript:alert(1)')).toBeNull();
  });

  it('parses paragraphs, headings, lists and fenced code', () => {
    const src = '# Result\n\nTried **adam** with `lr=0.1`, *worse*.\n\n- one\n- two\n\n1. a\n2. b\n\n```ts\nconst x = 1 < 2;\n```';
    const blocks = parseMarkdown(src);
    expect(blocks.map((b) => b.t)).toEqual(['h', 'p', 'ul', 'ol', 'code']);
    expect(blocks[1]).toEqual({
      t: 'p',
      c: [
        { t: 'text', v: 'Tried ' },
        { t: 'strong', c: [{ t: 'text', v: 'adam' }] },
        { t: 'text', v: ' with ' },
        { t: 'code', v: 'lr=0.1' },
        { t: 'text', v: ', ' },
        { t: 'em', c: [{ t: 'text', v: 'worse' }] },
        { t: 'text', v: '.' },
      ],
    });
    expect(blocks[4]).toEqual({ t: 'code', lang: 'ts', v: 'const x = 1 < 2;' });
  });

  it('does not treat snake_case as emphasis', () => {
    expect(parseInline('val_accuracy and train_loss')).toEqual([{ t: 'text', v: 'val_accuracy and train_loss' }]);
  });

  it('gives the plain text of a note', () => {
    expect(plainText(parseMarkdown('**Stopped** at epoch 20'))).toBe('Stopped at epoch 20');
  });
});

describe('markdown tables (gate notes)', () => {
  it('parses a pipe table with a rule line', () => {
    const blocks = parseMarkdown('**ci gate passed**\n\n| field | value |\n| --- | --- |\n| `metrics.acc` | 0.95 |\n| a \\| b | <b>x</b> |');
    expect(blocks[1]).toEqual({
      t: 'table',
      head: [[{ t: 'text', v: 'field' }], [{ t: 'text', v: 'value' }]],
      rows: [
        [[{ t: 'code', v: 'metrics.acc' }], [{ t: 'text', v: '0.95' }]],
        [[{ t: 'text', v: 'a | b' }], [{ t: 'text', v: '<b>x</b>' }]],
      ],
    });
  });
});
