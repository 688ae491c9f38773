/**
 * A note may be 1 MiB (the API's maximum, libs/api/src/inputs.ts); the run page renders
 * it. The hand-written parser took 13.6 s on such a note (issue 13): each unclosed
 * delimiter searched the rest of the text again. These shapes are the known traps for a
 * markdown parser (unclosed or nested emphasis, brackets, backtick runs of growing length,
 * table pipes, deep containers, long lines, many small blocks), each filled to 1 MiB and
 * rendered through the real component with react-dom/server.
 */
import { createRequire } from 'node:module';
import type { createElement as CreateElement } from 'react';
import type { renderToString as RenderToString } from 'react-dom/server';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Markdown as MarkdownComponent } from './Markdown.tsx';

const MIB = 1024 * 1024;

/** `unit(i)` repeated until the note is exactly 1 MiB. */
function fill(unit: (i: number) => string): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < MIB; i++) {
    const u = unit(i);
    parts.push(u);
    size += u.length;
  }
  return parts.join('').slice(0, MIB);
}

const SHAPES: Record<string, string> = {
  'unclosed emphasis openers': fill((i) => ['*a ', '**b ', '_c ', '__d ', '***e '][i % 5]!),
  'nested emphasis, never closed': fill(() => '*_**__a '),
  'emphasis closers without openers': fill(() => 'a* b** c_ d__ '),
  'openers then mismatched closers': fill((i) => (i < 60_000 ? '*t ' : '_t*_ ')),
  'emphasis nested 175,000 deep': `${'*a '.repeat(MIB / 6 + 1)}${' a*'.repeat(MIB / 6 + 1)}`,
  'unclosed link brackets': fill((i) => (i % 2 ? '[a ' : '![b ')),
  'bracket, paren, bracket': fill(() => '[a](b [c]( '),
  'link destinations that never end': fill(() => '[a](b'),
  'unmatched closing brackets and references': fill(() => 'a] [b][c] [d]: '),
  'links, safe and not': fill((i) => ['[a](/r) ', '[b](javascript:x) ', 'https://e.x/ ', '[c](/\\e) '][i % 4]!),
  'backtick runs of growing length, never closed': fill((i) => `${'`'.repeat((i % 2000) + 1)}a `),
  'alternating backtick runs': fill((i) => (i % 2 ? '`` a ' : '` b ')),
  'escaped backticks': fill(() => '\\``'),
  'a table of pipes': `| ${'a | '.repeat(200)}\n|${'---|'.repeat(200)}\n${fill(() => '|||||||||\\|`|`|[|]|\n')}`,
  'a table 50,000 columns wide': `|${'a|'.repeat(50_000)}\n|${'-|'.repeat(50_000)}\n${fill(() => '|x|\n')}`,
  'table rows with unclosed code and links': `| a | b |\n| --- | --- |\n${fill(() => '| `x [y]( *z | ** |\n')}`,
  'deeply nested block quotes': fill(() => '> '),
  'deeply nested lists': fill(() => '- '),
  'a list of a hundred thousand items': fill((i) => `- item ${i}\n`),
  'unclosed fences': fill((i) => `${'`'.repeat(3 + (i % 5))}x\n`),
  'blank lines': '\n'.repeat(MIB),
  'one long line of words': fill((i) => `word${i} `),
  'one long line of escapes and entities': fill(() => '\\* &amp; &#x26; \\` < '),
  'many short paragraphs': fill((i) => `p${i} **bold** \`code\`\n\n`),
};

/** Ends every note, so a test can see that the whole note is shown, formatted or not. */
const END = '\n\nend-of-note';

/** A note of exactly 1 MiB, the API's maximum: the shape, cut to size, then END. */
const note = (shape: string) => shape.slice(0, MIB - END.length) + END;

/**
 * The issue's bound is 100 ms per 1 MiB note. This machine is shared (2 cores, other test
 * processes beside this one), so wall time says more about the neighbours than about the
 * parser: what is measured is this process's CPU time (process.cpuUsage), and the median of
 * five renders after an untimed one that warms the JIT, so one GC pause cannot fail it.
 * It is React's production build that is timed, the one the portal ships: the development
 * build vitest would load checks every element and is several times slower. The
 * hand-written parser took 2.8 s to 6.5 s on these shapes; this one, parse and render
 * together, took at most about 45 ms with the machine's load average at 17, so the bound
 * has a wide margin both ways.
 */
const BOUND_MS = 100;
const RUNS = 5;

function medianCpuMs(f: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const before = process.cpuUsage();
    f();
    const used = process.cpuUsage(before);
    times.push((used.user + used.system) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

const textOf = (html: string) => html.replace(/<[^>]*>/g, '');

let createElement: typeof CreateElement;
let renderToString: typeof RenderToString;
let Markdown: typeof MarkdownComponent;

beforeAll(async () => {
  // React picks its build from NODE_ENV when first loaded, in this test file's own process.
  // Set through Reflect: vite replaces the literal `process.env.NODE_ENV` in test code.
  Reflect.set(process.env, 'NODE_ENV', 'production');
  ({ createElement } = await import('react'));
  ({ renderToString } = await import('react-dom/server'));
  ({ Markdown } = await import('./Markdown.tsx'));
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  expect(loaded.filter((f) => /react-dom-server\.node\.(production|development)/.test(f)).map((f) => f.includes('production'))).toEqual([true]);
});

describe('rendering a 1 MiB note', () => {
  it.each(Object.entries(SHAPES))('%s renders in under 100 ms', (_, shape) => {
    const source = note(shape);
    expect(source.length).toBe(MIB);
    const render = () => renderToString(createElement(Markdown, { source }));
    // Nothing is dropped unseen: the note is formatted to its end, or says how much more there is.
    const html = render();
    expect(textOf(html).includes('end-of-note') || html.includes('data-testid="note-rest-hidden"')).toBe(true);
    expect(medianCpuMs(render)).toBeLessThan(BOUND_MS);
  });
});
