import { describe, expect, it } from 'vitest';
import type { CommandModule } from './command-table.ts';
import { loadModule } from './main.ts';

const failing = (error: unknown): CommandModule => ({ commands: [{ term: 'run [options] <definition>', description: 'x' }], load: () => Promise.reject(error) }) as unknown as CommandModule;

describe("a command whose module cannot load because tfjs (the engine's peer) is missing", () => {
  it('says which package is missing and the install line, naming the command', async () => {
    const nodeError = Object.assign(new Error("Cannot find package '@tensorflow/tfjs-core' imported from /x/libs/engine/src/index.ts"), { code: 'ERR_MODULE_NOT_FOUND' });
    const err = (await loadModule(failing(nodeError)).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.message).toMatch(/^cairn run cannot start: @tensorflow\/tfjs-core is not installed; @cairn\/engine needs tfjs as a peer: npm install @tensorflow\/tfjs-core@4\.22\.0 /);
    expect(err.code).toBe('INVALID_INPUT');
  });

  it('passes any other failure through unchanged', async () => {
    const other = new Error('boom');
    await expect(loadModule(failing(other))).rejects.toBe(other);
  });
});
