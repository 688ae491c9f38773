import { Command, Option } from 'commander';

/** Adds one module's commands (with their options, help and actions) to the program. */
export type Register = (program: Command) => void;

/** A module of commands, loaded only when one of its commands runs or shows its help. */
export interface CommandModule {
  /**
   * The top-level commands the module registers, in help order, as the program's help lists
   * them: `name[|alias] [options] <args>`, and the description.
   */
  commands: readonly { term: string; description: string }[];
  load: () => Promise<Register>;
}

/**
 * Every command of the CLI, in the order `cairn --help` lists them. Importing a command's
 * module loads the libs it needs (store, engine, pipeline, tfjs), seconds from source; the
 * table lets `cairn --help`, `--version` and usage errors run without any of them, and
 * `cairn runs list` load the runs module alone. commands.test.ts checks it against the modules.
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  {
    commands: [{ term: 'init [options]', description: 'create the store (CAIRN_HOME with an embedded database, or the schema in PostgreSQL) and say where it is' }],
    load: async () => (await import('./commands/init.ts')).registerInit,
  },
  {
    commands: [{ term: 'projects', description: 'projects and the teams that own them (team mode)' }],
    load: async () => (await import('./commands/projects.ts')).registerProjects,
  },
  {
    commands: [{ term: 'experiments|exp', description: 'list experiments' }],
    load: async () => (await import('./commands/experiments.ts')).registerExperiments,
  },
  {
    commands: [{ term: 'runs', description: 'search, inspect, compare and annotate runs' }],
    load: async () => (await import('./commands/runs.ts')).registerRuns,
  },
  {
    commands: [{ term: 'data [options]', description: 'snapshot, version, compare, restore and verify datasets (content-addressed, like DVC)' }],
    load: async () => (await import('./commands/data.ts')).registerData,
  },
  {
    commands: [{ term: 'models', description: 'the model registry: versions, aliases, packages' }],
    load: async () => (await import('./commands/models.ts')).registerModels,
  },
  {
    commands: [{ term: 'serve [options] <ref>', description: 'serve a model version over HTTP: POST /predict, GET /health, /metadata, /metrics' }],
    load: async () => (await import('./commands/serve.ts')).registerServe,
  },
  {
    commands: [{ term: 'backends [options]', description: 'list the trainers and the tfjs backends, best first, and why each is or is not usable here' }],
    load: async () => (await import('./commands/backends.ts')).registerBackends,
  },
  {
    commands: [{ term: 'run [options] <training>', description: 'train a definition inline (no queue), tracked in the store: cairn run train.ts --data ./data' }],
    load: async () => (await import('./commands/run.ts')).registerRun,
  },
  {
    commands: [
      {
        term: 'ci [options] <training>',
        description: "the command a CI pipeline runs on every commit: the ci tier, its gate's verdict, a JUnit report; exit 0 only when the gate passed",
      },
    ],
    load: async () => (await import('./commands/ci.ts')).registerCi,
  },
  {
    commands: [{ term: 'submit [options] <training>', description: 'queue a training run on a tier for the workers: cairn submit train.ts --tier ci --data ./data' }],
    load: async () => (await import('./commands/submit.ts')).registerSubmit,
  },
  {
    commands: [
      {
        term: 'sweep [options] [training]',
        description: 'run a hyperparameter sweep on the queue: a parent run plus trial runs over a search space (cairn sweep show PARENT for its leaderboard)',
      },
    ],
    load: async () => (await import('./commands/sweep.ts')).registerSweep,
  },
  {
    commands: [{ term: 'worker [options]', description: 'take training jobs from the tier queues and run them, until SIGTERM or Ctrl-C' }],
    load: async () => (await import('./commands/worker.ts')).registerWorker,
  },
  {
    commands: [
      { term: 'queue [options]', description: 'jobs per tier and state in the queues, and the workers that are up' },
      { term: 'cancel [options] <run>', description: 'cancel a queued or running run (runs only for now; sweeps later)' },
      { term: 'schedules [options]', description: "the tiers' cron schedules from the config, and the job schedulers the workers registered in Redis" },
    ],
    load: async () => (await import('./commands/queue.ts')).registerQueue,
  },
  {
    commands: [
      { term: 'ui [options]', description: 'start the web portal on this store (builds it first when needed), until Ctrl-C' },
      {
        term: 'up [options]',
        description: 'start the portal and a worker together (and a private Redis when none answers and redis-server is installed), until Ctrl-C',
      },
      {
        term: 'demo [options]',
        description: 'record a small real project (datasets, ci runs, a sweep, failed and abandoned runs, a registered model) and open it in the portal',
      },
    ],
    load: async () => (await import('./commands/portal.ts')).registerPortal,
  },
];

/** The names (and aliases) of a module's top-level commands. */
export function commandNames(module: CommandModule): string[] {
  return module.commands.flatMap((c) => c.term.split(' ')[0]!.split('|'));
}

/** The module of a top-level command name or alias; undefined for an unknown name. */
export function moduleOf(name: string): CommandModule | undefined {
  return COMMAND_MODULES.find((m) => commandNames(m).includes(name));
}

/**
 * Adds placeholders of a module's commands to the program, for its help and for commander's
 * "unknown command (did you mean …)" error: name, alias, arguments and description only.
 * Commander lists a command as `name [options] <args>` when it has any option, so a
 * placeholder whose command has options gets a hidden one.
 */
export function addPlaceholders(program: Command, module: CommandModule): void {
  for (const { term, description } of module.commands) {
    const [names, ...rest] = term.split(' ');
    const [name, ...aliases] = names!.split('|');
    const cmd = program.command(name!).description(description);
    for (const alias of aliases) cmd.alias(alias);
    const args = rest.filter((w) => w !== '[options]');
    if (args.length) cmd.arguments(args.join(' '));
    if (rest.includes('[options]')) cmd.addOption(new Option('--placeholder').hideHelp());
    cmd.action(() => {
      // main loads a command's module before parsing whenever the arguments name it.
      throw new Error(`internal: command '${name}' was not loaded`);
    });
  }
}
