import type { CommanderError } from 'commander';

// The errors every start of the CLI may report (usage, --help, --version), kept apart from
// errors.ts so that path imports no lib: @cairn/schema and @cairn/config load only when a
// command fails with something else.

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

/** Reports a commander usage error (or help/version, exit 0) as one line; undefined for any other error. */
export function reportUsageError(e: unknown, write: (line: string) => void): number | undefined {
  if (!(e instanceof CommanderUsageError)) return undefined;
  const ce = e.commanderError;
  if (ce.exitCode === 0) return EXIT_OK;
  // Help already printed (e.g. `cairn runs` without a subcommand).
  if (ce.code === 'commander.help' || ce.code === 'commander.helpDisplayed') return EXIT_USAGE;
  // "error: unknown option '--jsn'\n(Did you mean --json?)" → one line.
  const msg = oneLine(ce.message.replace(/^error:\s*/, '').replace(/\(Did you mean/, '(did you mean'));
  write(`cairn: ${msg}; see '${e.helpCommand} --help'`);
  return EXIT_USAGE;
}
