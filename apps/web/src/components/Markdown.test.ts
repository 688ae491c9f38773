/**
 * Note links through the real component, rendered as the server renders it: every `<a>` in
 * the HTML is resolved the way a browser resolves it (WHATWG URL, against a page of the
 * portal) and must stay on the portal's origin, or be an http(s) link marked external with
 * rel="noopener noreferrer nofollow". The attacks listed in issue 13 must not be links at all.
 */
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Markdown } from './Markdown.tsx';

/** A page of the portal the note is shown on; links are resolved as its browser would. */
const PAGE = 'http://portal.test:3000/runs/r1';
const ORIGIN = new URL(PAGE).origin;

const render = (source: string) => renderToString(createElement(Markdown, { source }));

/** React's attribute escapes (&, ", ', <, >) undone. */
const unescape = (s: string) =>
  s.replace(/&(amp|quot|#x27|#39|lt|gt);/g, (_, e: string) => ({ amp: '&', quot: '"', '#x27': "'", '#39': "'", lt: '<', gt: '>' })[e]!);

interface Anchor {
  href: string | null;
  rel: string | null;
  target: string | null;
  text: string;
}

function anchors(html: string): Anchor[] {
  return [...html.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a>/g)].map(([, attrs, inner]) => {
    const attr = (name: string) => {
      const m = new RegExp(`\\s${name}="([^"]*)"`).exec(attrs!);
      return m ? unescape(m[1]!) : null;
    };
    return { href: attr('href'), rel: attr('rel'), target: attr('target'), text: unescape(inner!.replace(/<[^>]*>/g, '')) };
  });
}

/** The text a reader sees (tags dropped, escapes undone). */
const textOf = (html: string) => unescape(html.replace(/<[^>]*>/g, ''));

/** Every link in the rendered note stays on the portal, or is an external http(s) link shown and opened as such. */
function expectOnlySafeLinks(html: string): void {
  for (const a of anchors(html)) {
    expect(a.href, `an <a> without href: ${JSON.stringify(a)}`).not.toBeNull();
    const url = new URL(a.href!, PAGE);
    if (url.origin === ORIGIN) continue;
    expect(['http:', 'https:'], `${a.href} resolves to ${url.href}`).toContain(url.protocol);
    expect(a.rel?.split(' ').sort()).toEqual(['nofollow', 'noopener', 'noreferrer']);
    expect(a.text).toContain('↗');
  }
}

/** Asserts the note renders `label` as plain text: no link at all, and the label still shown. */
function expectPlainText(source: string, label = 'x'): void {
  const html = render(source);
  expectOnlySafeLinks(html);
  expect(anchors(html), `${JSON.stringify(source)} rendered ${html}`).toEqual([]);
  expect(textOf(html)).toContain(label);
}

describe('note links (issue 13: safeHref let off-site links through)', () => {
  it.each([
    ['a backslash after the slash', '[x](/\\evil.example)'],
    ['a backslash escape in a table cell', '| a | b |\n| --- | --- |\n| [x](/\\\\evil.example) | 1 |'],
    ['two backslashes in a table cell', '| a |\n| --- |\n| [x](\\\\\\\\evil.example) |'],
    ['a tab between the slashes', '[x](/\t/evil.example)'],
    ['a tab between the slashes (angle brackets)', '[x](</\t/evil.example>)'],
    ['a line feed in a link that spans lines', '[x](/\n/evil.example)'],
    ['a protocol-relative link', '[x](//evil.example)'],
    ['a dot segment that leaves two slashes', '[x](/.//evil.example)'],
    ['a scheme with a backslash', '[x](https:/\\evil.example)'],
    ['a scheme without slashes', '[x](http:evil.example)'],
    ['javascript:', '[x](javascript:alert(1))'],
    ['javascript: with mixed case and a leading space', '[x](< JaVaScRiPt:alert(1)>)'],
    ['data:', '[x](data:text/html,<script>alert(1)</script>)'],
    ['an autolink to javascript:', '<javascript:alert(1)>'],
    ['vbscript:', '[x](vbscript:msgbox(1))'],
    ['mailto:', '[x](mailto:someone@example.com)'],
    ['credentials that disguise the host', '[x](https://portal.test@evil.example/)'],
    ['a reference definition with a backslash', '[x][d]\n\n[d]: /\\evil.example'],
    ['a reference definition with javascript:', '[x][d]\n\n[d]: javascript:alert(1)'],
  ])('renders %s as plain text', (_, source) => {
    expectPlainText(source, source.startsWith('<javascript') ? 'javascript:alert(1)' : 'x');
  });

  // Notes do not decode character references, so these are not a tab, a line feed or a
  // 'j': whatever they are read as, the link must not leave the portal.
  it.each([
    ['a tab between the slashes (character reference)', '[x](/&#9;/evil.example)'],
    ['a line feed between the slashes (character reference)', '[x](/&#10;/evil.example)'],
    ['a carriage return between the slashes (character reference)', '[x](/&#13;/evil.example)'],
    ['javascript: spelt with a character reference', '[x](&#106;avascript:alert(1))'],
  ])('keeps %s on the portal', (_, source) => {
    const html = render(source);
    expectOnlySafeLinks(html);
    for (const a of anchors(html)) expect(new URL(a.href!, PAGE).origin).toBe(ORIGIN);
  });

  it('keeps links to the portal itself as same-origin paths, without target or rel', () => {
    const html = render('[run](/runs/abc?tab=metrics#loss) · [top](#notes-h) · [filtered](?filter=status%3Dfailed)');
    expectOnlySafeLinks(html);
    expect(anchors(html)).toEqual([
      { href: '/runs/abc?tab=metrics#loss', rel: null, target: null, text: 'run' },
      { href: '#notes-h', rel: null, target: null, text: 'top' },
      { href: '?filter=status%3Dfailed', rel: null, target: null, text: 'filtered' },
    ]);
  });

  it('marks http(s) links as external and opens them without opener, referrer or endorsement', () => {
    const html = render('See [the paper](https://arxiv.org/abs/1412.6980) and https://example.com/a.');
    expectOnlySafeLinks(html);
    const [paper, bare] = anchors(html);
    expect(paper).toMatchObject({ href: 'https://arxiv.org/abs/1412.6980', rel: 'noopener noreferrer nofollow', target: '_blank' });
    expect(paper!.text).toBe('the paper↗ (external site, opens in a new tab)');
    expect(bare).toMatchObject({ href: 'https://example.com/a', rel: 'noopener noreferrer nofollow', target: '_blank' });
  });

  it('gives the browser the parsed URL, not the note text', () => {
    const [a] = anchors(render('[x](HTTPS://Example.COM/a/../b)'));
    expect(a!.href).toBe('https://example.com/b');
  });

  it('keeps raw HTML as text and loads no images', () => {
    const html = render('<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n![a chart](https://evil.example/pixel.png)');
    expect(html).not.toMatch(/<script|<img/);
    expect(textOf(html)).toContain('<script>alert(1)</script>');
    expect(textOf(html)).toContain('a chart');
  });
});
