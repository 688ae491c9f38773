import { describe, expect, it } from 'vitest';
import { safeHref } from './note-links.ts';

describe('safeHref', () => {
  it('keeps paths, fragments and queries on the portal, as the URL parser reads them', () => {
    expect(safeHref('/runs/abc')).toEqual({ href: '/runs/abc', external: false });
    expect(safeHref('/runs/../models/x y?a=1#b')).toEqual({ href: '/models/x%20y?a=1#b', external: false });
    expect(safeHref('#notes-h')).toEqual({ href: '#notes-h', external: false });
    expect(safeHref('?filter=a')).toEqual({ href: '?filter=a', external: false });
  });

  it('keeps http(s) links as external, serialised by the parser', () => {
    expect(safeHref('HTTPS://Example.COM/a/../b')).toEqual({ href: 'https://example.com/b', external: true });
    expect(safeHref('http://127.0.0.1:3000/runs')).toEqual({ href: 'http://127.0.0.1:3000/runs', external: true });
  });

  it.each([
    '/\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '/\r/evil.example',
    '\\\\evil.example',
    '//evil.example',
    '/.//evil.example',
    '/%2e//evil.example',
    ' /runs',
    'https:/\\evil.example',
    'https:evil.example',
    'http:/evil.example',
    'https://portal@evil.example',
    'https://a:b@evil.example',
    'https://',
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    'data:text/html,x',
    'mailto:a@b.c',
    'ftp://x.test',
    'runs/abc',
    '',
  ])('refuses %j', (raw) => {
    expect(safeHref(raw)).toBeNull();
  });
});
