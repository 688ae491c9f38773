/**
 * JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): one <testsuite> in a
 * <testsuites>, one <testcase> per check, <failure> for a check that failed and <error>
 * for one that could not be made.
 */
export interface JUnitCase {
  name: string;
  classname: string;
  timeSec: number;
  failure?: { message: string; type: string; body: string };
  error?: { message: string; type: string; body: string };
  systemOut?: string;
}

export interface JUnitSuite {
  name: string;
  timestamp: Date;
  timeSec: number;
  properties: Record<string, string>;
  cases: JUnitCase[];
}

// Characters XML 1.0 cannot hold at all, escaped or not (controls but tab, LF, CR; U+FFFE/F; lone surrogates).
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text for an element or an attribute: markup characters escaped, characters XML cannot hold replaced by U+FFFD. */
export function xmlEscape(text: string, attribute = false): string {
  const s = text.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  if (!attribute) return s;
  // Attribute values: quotes escaped, and whitespace kept (a parser normalises raw newlines and tabs to spaces).
  return s.replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

const seconds = (t: number) => (Number.isFinite(t) && t > 0 ? t : 0).toFixed(3);

export function junitXml(suite: JUnitSuite): string {
  const failures = suite.cases.filter((c) => c.failure).length;
  const errors = suite.cases.filter((c) => c.error && !c.failure).length;
  const a = (s: string) => xmlEscape(s, true);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${a(suite.name)}" tests="${suite.cases.length}" failures="${failures}" errors="${errors}" time="${seconds(suite.timeSec)}">`,
    `  <testsuite name="${a(suite.name)}" tests="${suite.cases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${seconds(suite.timeSec)}" timestamp="${suite.timestamp.toISOString().replace(/\.\d+Z$/, 'Z')}">`,
  ];
  const props = Object.entries(suite.properties);
  if (props.length) {
    lines.push('    <properties>');
    for (const [k, v] of props) lines.push(`      <property name="${a(k)}" value="${a(v)}"/>`);
    lines.push('    </properties>');
  }
  for (const c of suite.cases) {
    const open = `    <testcase name="${a(c.name)}" classname="${a(c.classname)}" time="${seconds(c.timeSec)}"`;
    const inner: string[] = [];
    if (c.failure) inner.push(`      <failure message="${a(c.failure.message)}" type="${a(c.failure.type)}">${xmlEscape(c.failure.body)}</failure>`);
    else if (c.error) inner.push(`      <error message="${a(c.error.message)}" type="${a(c.error.type)}">${xmlEscape(c.error.body)}</error>`);
    if (c.systemOut) inner.push(`      <system-out>${xmlEscape(c.systemOut)}</system-out>`);
    if (inner.length) lines.push(`${open}>`, ...inner, '    </testcase>');
    else lines.push(`${open}/>`);
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
