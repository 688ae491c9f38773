import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { COMMAND_MODULES, addPlaceholders, commandNames, moduleOf, type CommandModule, type Register } from './command-table.ts';
import { CommanderUsageError, reportUsageError } from './usage-errors.ts';

const { version } = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * A command's module, or, when tfjs (the engine's peer) is what is missing, an error that
 * names the package and the install line instead of Node's bare "Cannot find package".
 * The engine's peers helper loads only on that path: --help and --version load no lib.
 */
export async function loadModule(module: CommandModule): Promise<Register> {
  try {
    return await module.load();
  } catch (e) {
    const { TfjsMissingError, missingTfjsPackage } = await import('@cairn/engine/peers');
    const missing = missingTfjsPackage(e);
    if (missing) throw new TfjsMissingError(missing, `cairn ${commandNames(module)[0] ?? ''} cannot start`, { cause: e });
    throw e;
  }
}

/**
 * The program with the modules of the commands that `args` name loaded (every module when
 * `args` is undefined) and placeholders for the others, which serve the help and usage errors.
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
  const wanted = args === undefined ? COMMAND_MODULES : modulesFor(args);
  const registers = new Map<CommandModule, Register>();
  for (const module of wanted) registers.set(module, await loadModule(module));
  const program = new Command('cairn')
    .description('Cairn: inspect experiments and runs tracked in a Cairn store, and version datasets')
    .version(version, '-V, --version')
    .addOption(new Option('--home <dir>', 'Cairn home of the embedded store (default: $CAIRN_HOME, else ./.cairn)'))
    .addOption(new Option('--db <url>', 'PostgreSQL URL of a shared store (default: $DATABASE_URL)').conflicts('home'))
    .showSuggestionAfterError()
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      'after',
      `
Examples:
  cairn init
  cairn experiments list
  cairn runs list --experiment mnist --filter "metrics.acc > 0.9 or params.opt = 'adam'" --sort metrics.acc desc
  cairn runs show 019a3f2c
  cairn runs compare 019a3f2c 019a3f2d
  cairn data snapshot ./data/mnist --dataset mnist -m "relabelled 120 images"
  cairn data log mnist
  cairn data diff 5f1c2a9e 8b07d4c1
  cairn data checkout 5f1c2a9e ./restored
  cairn data verify
  cairn backends
  cairn run examples/iris-mlp/train.ts --data examples/iris-mlp/data --param epochs=30
  cairn ci examples/iris-mlp/train.ts --data examples/iris-mlp/data --junit cairn-junit.xml
  cairn worker --tiers ci,extended --metrics-port 9464
  cairn submit examples/iris-mlp/train.ts --tier ci --data examples/iris-mlp/data --wait
  cairn queue --watch
  cairn cancel 019a3f2c
  cairn schedules
  cairn models register 019a3f2c --name iris-mlp --alias staging
  cairn models package iris-mlp@production --out ./iris-model
  cairn serve iris-mlp@production --port 8080

Queues live in Redis: REDIS_URL (default redis://127.0.0.1:6379); nothing answering fails at once.
Exit status: 0 ok, 1 failure (not found, store locked or unreachable, Redis unreachable, filter syntax, corrupt blobs, a failed ci gate), 2 usage.`,
    );
  for (const module of COMMAND_MODULES) {
    const register = registers.get(module);
    if (register) register(program);
    else addPlaceholders(program, module);
  }
  // Every command reports usage errors through main (one line, exit 2) instead of exiting itself.
  const configure = (cmd: Command, path: string) => {
    cmd.exitOverride((err) => {
      throw new CommanderUsageError(err, path);
    });
    cmd.configureOutput({ outputError: () => {} });
    for (const sub of cmd.commands) configure(sub, `${path} ${sub.name()}`);
  };
  configure(program, 'cairn');
  return program;
}

/**
 * The module of the command that commander will dispatch `args` to, found the way commander
 * reads the program's own options: `--home`/`--db` take a value, any other option before the
 * command stops the dispatch (help, version or an unknown option), `help NAME` shows NAME's help.
 */
export function modulesFor(args: readonly string[]): CommandModule[] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--home' || arg === '--db') {
      i++;
      continue;
    }
    if (arg.startsWith('--home=') || arg.startsWith('--db=')) continue;
    const name = arg === '--' ? args[i + 1] : arg.startsWith('-') ? undefined : arg === 'help' ? args[i + 1] : arg;
    const module = name === undefined ? undefined : moduleOf(name);
    return module ? [module] : [];
  }
  return [];
}

/** Runs the CLI with user arguments (no node/script prefix) and returns the exit code. */
export async function main(args: string[] = process.argv.slice(2)): Promise<number> {
  // `cairn runs list | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  try {
    await (await buildProgram(args)).parseAsync(args, { from: 'user' });
    // A command that reports its own failure (a failed run, a failed gate) sets process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const write = (line: string) => process.stderr.write(`${line}\n`);
    // Usage errors, --help and --version are reported without loading errors.ts's libs.
    return reportUsageError(e, write) ?? (await import('./errors.ts')).reportError(e, write);
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(fs.realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main();
