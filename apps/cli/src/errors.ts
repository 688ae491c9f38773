import { EXIT_FAILURE, EXIT_USAGE, UsageError, reportUsageError } from './usage-errors.ts';
import stringWidth from 'string-width';
import { FilterSyntaxError, NotFoundError, isCairnError } from '@cairn/schema';
import { readSettings } from '@cairn/config';

export { CommanderUsageError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './usage-errors.ts';

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** Prints the error to stderr (one line, plus the filter and a caret for a filter syntax error) and returns the exit code. */
export function reportError(e: unknown, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const debug = debugWanted();
  const usage = reportUsageError(e, write);
  if (usage !== undefined) return usage;
  if (e instanceof UsageError) {
    write(`cairn: ${oneLine(e.message)}`);
    return EXIT_USAGE;
  }
  if (isCairnError(e)) {
    let msg = oneLine(e.message);
    if (e instanceof NotFoundError && e.kind === 'run') msg += `: see 'cairn runs list' for run ids`;
    if (e instanceof NotFoundError && e.kind === 'experiment') msg += `: see 'cairn experiments list'`;
    if (e instanceof NotFoundError && e.kind === 'dataset') msg += `: see 'cairn data list'`;
    if (e instanceof NotFoundError && e.kind === 'snapshot') msg += `: see 'cairn data log DATASET' for snapshot ids`;
    write(`cairn: ${msg}`);
    if (e instanceof FilterSyntaxError) {
      const input = e.input.replace(/[\t\n\r]/g, ' ');
      const before = input.slice(0, Math.max(0, e.column - 1));
      write(`  ${input}`);
      write(`  ${' '.repeat(stringWidth(before))}^`);
    }
    // No stack trace for a CairnError, even with CAIRN_DEBUG: the message is the whole story.
    return e.code === 'INVALID_INPUT' ? EXIT_USAGE : EXIT_FAILURE;
  }
  const msg = e instanceof Error ? e.message : String(e);
  write(`cairn: unexpected error: ${oneLine(msg) || 'unknown'}${debug ? '' : ' (set CAIRN_DEBUG=1 for the stack trace)'}`);
  if (debug && e instanceof Error && e.stack) write(e.stack);
  return EXIT_FAILURE;
}

/** CAIRN_DEBUG, read on its own: a bad value elsewhere in the environment (maybe the error being reported) must not hide this one. */
function debugWanted(): boolean {
  try {
    return readSettings(process.env, ['debug']).debug;
  } catch {
    return false;
  }
}
