import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envReads } from './env-reads.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The only lib files that may read the environment, and why. Everything else in libs/
 * takes options: apps read their configuration once (@cairn/config) and pass it in.
 */
const ALLOWED: Record<string, string> = {
  'libs/tracking/src/script-env.ts': "the tracking client in a user's own training script follows CAIRN_URL/CAIRN_TOKEN/... like MLflow's MLFLOW_TRACKING_URI",
  'libs/tracking/src/process-hooks.ts': 'reads NODE_OPTIONS to see which flags this Node process runs with (not a Cairn setting)',
};

/** Lib sources that ship (tests and test helpers may set up their own environment). */
function libSources(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', 'libs/*/src/*.ts', 'libs/*/src/**/*.ts'], { cwd: ROOT, encoding: 'utf8' });
  return [...new Set(out.split('\n'))].filter(
    (f) => f && fs.existsSync(path.join(ROOT, f)) && !/\.test\.tsx?$/.test(f) && !/(^|\/)(testing|test-support)\.ts$/.test(f) && !/\/(fixtures|testing)\//.test(f),
  );
}

describe('envReads', () => {
  it('finds reads, and not a child process handed the environment or a comment', () => {
    expect(envReads("const u = process.env.DATABASE_URL;").map((r) => r.line)).toEqual([1]);
    expect(envReads("x\nconst t = process.env['CAIRN_TOKEN'];").map((r) => r.line)).toEqual([2]);
    expect(envReads('export function f(env = process.env) {}')).toHaveLength(1);
    expect(envReads('return env.CAIRN_HOME ?? ".cairn";')).toHaveLength(1);
    expect(envReads("spawn('git', [], { env: { ...process.env, LC_ALL: 'C' } });")).toEqual([]);
    expect(envReads("spawn('x', [], { env: { ...process.env, A: process.env.CAIRN_HOME } });")).toHaveLength(1);
    expect(envReads(' * reads CAIRN_HOME from process.env')).toEqual([]);
    expect(envReads('// process.env.CAIRN_HOME')).toEqual([]);
    expect(envReads('const home = options.home;')).toEqual([]);
  });
});

describe('libs read no environment variables', () => {
  const files = libSources();

  it('finds the libs’ sources', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('outside the few files allowed (each with its reason), no lib source reads the environment', () => {
    const found = files.filter((f) => !(f in ALLOWED)).flatMap((f) => envReads(fs.readFileSync(path.join(ROOT, f), 'utf8')).map((r) => `${f}:${r.line}: ${r.text}`));
    expect(found, 'read the variable in the app (@cairn/config readConfig) and pass it in as an option').toEqual([]);
  });

  it('every allowed file still exists and still needs its exception', () => {
    for (const f of Object.keys(ALLOWED)) {
      expect(fs.existsSync(path.join(ROOT, f)), f).toBe(true);
      expect(envReads(fs.readFileSync(path.join(ROOT, f), 'utf8')).length, `${f} reads nothing now: drop it from ALLOWED`).toBeGreaterThan(0);
    }
  });
});
