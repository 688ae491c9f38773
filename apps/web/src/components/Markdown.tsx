'use client';
import { useState, type ReactNode } from 'react';
import { formatBytes } from '../lib/format.ts';
import { parseMarkdown, type Align, type Inline } from '../lib/markdown.ts';

/**
 * A link as note-links.ts allowed it: on the portal as is; elsewhere in a new tab, with no
 * opener, referrer or endorsement, and marked so a reader sees it leaves the portal.
 */
function NoteLink({ href, external, children }: { href: string; external: boolean; children: ReactNode }) {
  if (!external) return <a href={href}>{children}</a>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow" className="external" title={href}>
      {children}
      <span aria-hidden="true">↗</span>
      <span className="sr-only"> (external site, opens in a new tab)</span>
    </a>
  );
}

function inline(nodes: Inline[]): ReactNode {
  return nodes.map((n, i) => {
    switch (n.t) {
      case 'text':
        return n.v; // a string child needs no key, and costs no element
      case 'code':
        return <code key={i}>{n.v}</code>;
      case 'em':
        return <em key={i}>{inline(n.c)}</em>;
      case 'strong':
        return <strong key={i}>{inline(n.c)}</strong>;
      case 'link':
        return (
          <NoteLink key={i} href={n.href} external={n.external}>
            {inline(n.c)}
          </NoteLink>
        );
    }
  });
}

/**
 * The part of a huge note past what is formatted: shown as written, and only when asked
 * for (rendering it costs the browser little, but the server would have to escape it all).
 */
function PlainRest({ rest }: { rest: string }) {
  const [shown, setShown] = useState(false);
  if (shown) {
    return (
      <pre className="md-plain" data-testid="note-rest">
        {rest}
      </pre>
    );
  }
  return (
    <p className="muted small" data-testid="note-rest-hidden">
      This note is too long to format in full: {formatBytes(new TextEncoder().encode(rest).length)} more are not shown.{' '}
      <button type="button" className="link" onClick={() => setShown(true)} data-testid="note-show-rest">
        Show the rest as written
      </button>
    </p>
  );
}

const cellStyle = (align: Align | undefined) => (align ? { textAlign: align } : undefined);

/** Renders a note's markdown as React elements: raw HTML stays text, links are checked, a huge note is formatted only in part. */
export function Markdown({ source }: { source: string }) {
  const { blocks, rest } = parseMarkdown(source);
  return (
    <div className="md">
      {blocks.map((b, i) => {
        switch (b.t) {
          case 'p':
            return <p key={i}>{inline(b.c)}</p>;
          case 'h': {
            // A note's headings sit under the page's and the panel's (h1, h2): `#` is an h3.
            const level = Math.min(6, b.level + 2);
            const Tag = `h${level}` as 'h3' | 'h4' | 'h5' | 'h6';
            return <Tag key={i}>{inline(b.c)}</Tag>;
          }
          case 'code':
            return (
              <pre key={i}>
                <code>{b.v}</code>
              </pre>
            );
          case 'hr':
            return <hr key={i} />;
          case 'ul':
            return (
              <ul key={i}>
                {b.items.map((it, j) => (
                  <li key={j}>{inline(it)}</li>
                ))}
              </ul>
            );
          case 'ol':
            return (
              <ol key={i} start={b.start}>
                {b.items.map((it, j) => (
                  <li key={j}>{inline(it)}</li>
                ))}
              </ol>
            );
          case 'table':
            return (
              <div key={i} className="table-scroll">
                <table className="data">
                  <thead>
                    <tr>
                      {b.head.map((c, j) => (
                        <th key={j} style={cellStyle(b.align[j])}>
                          {inline(c)}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {b.rows.map((r, j) => (
                      <tr key={j}>
                        {r.map((c, k) => (
                          <td key={k} style={cellStyle(b.align[k])}>
                            {inline(c)}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
        }
      })}
      {rest !== null ? <PlainRest rest={rest} /> : null}
    </div>
  );
}
