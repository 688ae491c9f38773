import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_MODULES, moduleOf } from './command-table.ts';
import { buildProgram, modulesFor } from './main.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

describe('the command table', () => {
  it('names each module’s commands with the terms and descriptions the modules register', async () => {
    for (const module of COMMAND_MODULES) {
      const program = new Command('cairn');
      (await module.load())(program);
      const help = program.createHelp();
      expect(program.commands.map((c) => ({ term: help.subcommandTerm(c), description: c.description() }))).toEqual(module.commands);
    }
  }, 120_000);

  it('gives the same program help with placeholders as with every module loaded', async () => {
    const lazy = await buildProgram([]);
    const full = await buildProgram();
    expect(lazy.helpInformation()).toBe(full.helpInformation());
    expect(lazy.commands.map((c) => c.name())).toEqual(full.commands.map((c) => c.name()));
  }, 120_000);

  it('finds the command commander dispatches to, past the program’s own options', () => {
    const names = (args: string[]) => modulesFor(args).map((m) => m.commands[0]!.term);
    expect(names(['runs', 'list'])).toEqual(['runs']);
    expect(names(['--home', '/tmp/h', 'runs', 'list'])).toEqual(['runs']);
    expect(names(['--db=postgres://x', 'exp', 'list'])).toEqual(['experiments|exp']);
    expect(names(['help', 'cancel'])).toEqual([moduleOf('queue')!.commands[0]!.term]);
    expect(names(['--', 'ui'])).toEqual([moduleOf('ui')!.commands[0]!.term]);
    expect(names(['--db', 'runs', 'list'])).toEqual([]);
    expect(names(['--help', 'runs'])).toEqual([]);
    expect(names(['-V'])).toEqual([]);
    expect(names(['rnus'])).toEqual([]);
    expect(names([])).toEqual([]);
  });
});

describe('start-up', () => {
  // A resolve hook that refuses every Cairn lib and tfjs: --help, --version and usage
  // errors must not need them (they cost seconds to load from source).
  const hooks = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-startup-'));
  const refuse = path.join(hooks, 'refuse.mjs');
  fs.writeFileSync(
    refuse,
    `export async function resolve(s, c, next) { if (s.startsWith('@cairn/') || s.startsWith('@tensorflow/')) throw new Error('start-up loaded ' + s); return next(s, c); }\n`,
  );
  const setup = path.join(hooks, 'setup.mjs');
  fs.writeFileSync(setup, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(refuse).href)});\n`);
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(setup).href, MAIN, ...args], { env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) =>
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
      );
    });

  it('loads no lib for --version, --help and an unknown command', async () => {
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const help = await run(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('runs                         search, inspect, compare and annotate runs');
    const unknown = await run(['rnus']);
    expect(unknown).toEqual({ code: 2, stdout: '', stderr: "cairn: unknown command 'rnus' (did you mean runs?); see 'cairn --help'\n" });
    // The hook does refuse a lib: a command that needs one fails here.
    expect((await run(['runs', 'list'])).stderr).toContain('start-up loaded @cairn/');
  }, 120_000);
});
