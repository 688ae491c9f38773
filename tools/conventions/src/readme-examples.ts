import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * A lib's README opens with a short example of its main use (STYLE.md). These read the
 * example out of the README and compile it against the lib's real public entry, so an
 * example that drifts from the API fails a test instead of misleading a reader.
 */

export interface OpeningExample {
  /** The fence's language tag (`ts`), or undefined when the README has no code block. */
  lang?: string;
  code: string;
  /** 1-based line of the block's first code line in the README. */
  line: number;
}

/** The README's problems with its opening example (none: it opens with a ```ts block before any `## ` section). */
export function openingExampleProblems(markdown: string): string[] {
  const block = firstCodeBlock(markdown);
  if (!block) return ['no code block'];
  const problems: string[] = [];
  if (block.lang !== 'ts') problems.push(`its first code block is \`\`\`${block.lang ?? ''}, not \`\`\`ts`);
  const heading = firstSectionLine(markdown);
  if (heading !== undefined && heading < block.line) problems.push(`its first code block (line ${block.line - 1}) comes after the section heading on line ${heading}`);
  return problems;
}

/** The first fenced code block, and where its code starts. */
export function firstCodeBlock(markdown: string): OpeningExample | undefined {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^```/.test(l));
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && /^```\s*$/.test(l));
  const lang = lines[start]!.slice(3).trim().split(/\s+/)[0] || undefined;
  return { lang, code: lines.slice(start + 1, end < 0 ? undefined : end).join('\n'), line: start + 2 };
}

/** The 1-based line of the first `## ` heading outside code blocks. */
function firstSectionLine(markdown: string): number | undefined {
  let fenced = false;
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^```/.test(lines[i]!)) fenced = !fenced;
    else if (!fenced && /^##\s/.test(lines[i]!)) return i + 1;
  }
  return undefined;
}

export interface ExampleSource {
  /** Where the example came from, for messages (`libs/store/README.md`). */
  name: string;
  code: string;
  /** The README line of the code's first line. */
  line: number;
}

/**
 * Type-checks each example as a module of its own, compiled with the repository's
 * tsconfig.base.json options. The files are written into `dir` (inside the repository,
 * so `@cairn/*` resolve through the workspace's node_modules as for any project) and
 * removed afterwards. Returns one message per diagnostic, pointing into the README.
 */
export function typecheckExamples(examples: ExampleSource[], options: { root: string; dir: string }): string[] {
  const config = ts.readConfigFile(path.join(options.root, 'tsconfig.base.json'), ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, options.root, { noEmit: true }, path.join(options.root, 'tsconfig.base.json'));
  fs.mkdirSync(options.dir, { recursive: true });
  const work = fs.mkdtempSync(path.join(options.dir, 'examples-'));
  try {
    const files = examples.map((e, i) => {
      const file = path.join(work, `example-${i}.ts`);
      fs.writeFileSync(file, e.code);
      return { file, example: e };
    });
    const program = ts.createProgram(
      files.map((f) => f.file),
      parsed.options,
    );
    const messages = program.getGlobalDiagnostics().map((d) => `tsconfig.base.json: TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    for (const { file, example } of files) {
      const source = program.getSourceFile(file)!;
      const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
      for (const d of diagnostics) {
        const where = d.start === undefined ? '' : `:${source.getLineAndCharacterOfPosition(d.start).line + example.line}`;
        messages.push(`${example.name}${where}: TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      }
    }
    return messages;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    try {
      fs.rmdirSync(options.dir);
    } catch {
      // Not empty (another run is writing there) or already gone.
    }
  }
}
