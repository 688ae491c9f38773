import { CommanderError } from 'commander';
import stringWidth from 'string-width';
import { FilterSyntaxError, NotFoundError, isCairnError } from '@cairn/schema';
import { readSettings } from '@cairn/config';

/**
 * Exit codes:
 *   0  success (also --help and --version)
 *   1  the command failed: a CairnError such as NOT_FOUND, STORE_LOCKED,
 *      STORE_UNREACHABLE, STORE_DAMAGED, FILTER_SYNTAX, INVALID_STATE, or an
 *      unexpected error
 *   2  usage: an unknown command or option, a missing or malformed argument,
 *      and INVALID_INPUT (the store refused an argument: a bad cursor, an
 *      ambiguous run id prefix, an invalid database URL)
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A usage error found by a command itself (after commander parsed the arguments). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Commander's usage errors, reported by main as one line. `helpCommand` names the command to read help for. */
export class CommanderUsageError extends Error {
  constructor(
    readonly commanderError: CommanderError,
    readonly helpCommand: string,
  ) {
    super(commanderError.message);
    this.name = 'CommanderUsageError';
  }
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** Prints the error to stderr (one line, plus the filter and a caret for a filter syntax error) and returns the exit code. */
export function reportError(e: unknown, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const debug = debugWanted();
  if (e instanceof CommanderUsageError) {
    const ce = e.commanderError;
    if (ce.exitCode === 0) return EXIT_OK;
    // Help already printed (e.g. `cairn runs` without a subcommand).
    if (ce.code === 'commander.help' || ce.code === 'commander.helpDisplayed') return EXIT_USAGE;
    // "error: unknown option '--jsn'\n(Did you mean --json?)" → one line.
    const msg = oneLine(ce.message.replace(/^error:\s*/, '').replace(/\(Did you mean/, '(did you mean'));
    write(`cairn: ${msg}; see '${e.helpCommand} --help'`);
    return EXIT_USAGE;
  }
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
