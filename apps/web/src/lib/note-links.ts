/**
 * What a note may link to. A link is kept only when the WHATWG URL parser, the one
 * browsers use, says where it goes: a path on the portal itself, or an http(s) URL
 * elsewhere (rendered as external). Anything else keeps its text and loses its link.
 */

export interface SafeLink {
  /** The href to render: the parser's serialisation, never the note's own text. */
  href: string;
  /** True for a link off the portal: opened in a new tab, rel="noopener noreferrer nofollow", marked as such. */
  external: boolean;
}

/**
 * A base no real portal has: relative links are resolved against it only to learn whether
 * they stay on the origin. What is rendered is the resolved path (or fragment, or query),
 * which a browser then resolves against whatever origin the portal is served from, so the
 * portal's own origin need not be known here (nor differ between server and client render).
 */
const BASE = new URL('https://portal.cairn.invalid/');

/**
 * Characters that browsers strip or rewrite before resolving a URL, so that what the note
 * shows is not where the link goes: C0 controls and DEL (the parser drops tabs and line
 * feeds anywhere, other controls at the ends) and backslashes (read as '/' in http(s)
 * URLs, so '/\evil.example' is '//evil.example').
 */
const DECEPTIVE = /[\u0000-\u001f\u007f\\]/;

function parse(raw: string, base?: URL): URL | null {
  try {
    return new URL(raw, base);
  } catch {
    return null;
  }
}

/**
 * Where a note's link may go, or null when it must stay text: javascript:, data:, mailto:
 * and every other scheme; protocol-relative ('//host'); backslash, control-character and
 * dot-segment tricks that resolve off the origin; credentials in front of a host
 * ('https://portal@evil.example'), which disguise where the link goes.
 */
export function safeHref(raw: string): SafeLink | null {
  if (DECEPTIVE.test(raw) || raw !== raw.trim()) return null;
  if (raw.startsWith('#') || raw.startsWith('?') || raw.startsWith('/')) {
    if (raw.startsWith('//')) return null;
    const url = parse(raw, BASE);
    if (!url || url.origin !== BASE.origin) return null;
    // A fragment or a query stays relative to the page it is on; a path is absolute.
    const href = raw.startsWith('#') ? url.hash || '#' : raw.startsWith('?') ? (url.search || '?') + url.hash : url.pathname + url.search + url.hash;
    // '/.//evil.example' resolves to the path '//evil.example', which read back alone is protocol-relative.
    if (href.startsWith('//')) return null;
    return { href, external: false };
  }
  // An absolute link names its scheme and host in full: 'http:evil.example' (a path on
  // the page's own origin when that origin is http, a host otherwise) is refused.
  if (!/^https?:\/\//i.test(raw)) return null;
  const url = parse(raw);
  if (!url || url.username || url.password) return null;
  return { href: url.href, external: true };
}
