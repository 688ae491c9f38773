import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The API server must not load the training engine (tfjs takes seconds to load, and a
 * server has no use for it): it reaches the queues through @cairn/pipeline/queues, whose
 * module graph imports neither @cairn/engine nor @tensorflow/* at runtime. Each case
 * imports a module in a fresh Node process (with tsx, as the servers run) whose ESM
 * resolve hook logs every module resolved, plus the CommonJS modules loaded. The one
 * engine modules allowed are its tfjs-free subpaths `@cairn/engine/random` and
 * `@cairn/engine/tiers` (files that import nothing): the sweep code the queues entry
 * carries draws from the one seeded RNG, and the queues are one per tier.
 */

const here = dirname(fileURLToPath(import.meta.url));
const hooks = join(here, 'fixtures/load-log/register.mjs');
const ENGINE = /\/libs\/engine\/(?!src\/(random|tiers)\.ts$)|\/node_modules\/@tensorflow\/|\/@cairn\/engine\/(?!src\/(random|tiers)\.ts$)/;
const tmp = mkdtempSync(join(tmpdir(), 'cairn-no-engine-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** Every module URL or path `specifier` loads when imported alone. */
async function modulesLoadedBy(specifier: string): Promise<string[]> {
  const log = join(tmp, `loads-${n++}.txt`);
  const script = `import { createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
await import(${JSON.stringify(specifier)});
appendFileSync(process.env.CAIRN_LOAD_LOG, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');`;
  await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', hooks, '--input-type=module', '-e', script], {
    cwd: join(here, '..'),
    env: { ...process.env, CAIRN_LOAD_LOG: log },
    timeout: 120_000,
  });
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

describe('the API server loads no training engine', () => {
  it('@cairn/api loads the pipeline queues entry and nothing of @cairn/engine or @tensorflow', async () => {
    const loaded = await modulesLoadedBy('@cairn/api');
    expect(loaded.some((u) => u.includes('/libs/pipeline/src/queues-entry.ts'))).toBe(true);
    expect(loaded.filter((u) => ENGINE.test(u))).toEqual([]);
  }, 120_000);

  it('@cairn/pipeline/queues alone loads nothing of them either', async () => {
    const loaded = await modulesLoadedBy('@cairn/pipeline/queues');
    expect(loaded.length).toBeGreaterThan(10);
    expect(loaded.filter((u) => ENGINE.test(u))).toEqual([]);
  }, 120_000);

  it("sees the engine where it is loaded: @cairn/pipeline's main entry loads it (so the check above can fail)", async () => {
    const loaded = await modulesLoadedBy('@cairn/pipeline');
    expect(loaded.some((u) => /\/libs\/engine\/src\/index\.ts$/.test(u))).toBe(true);
    expect(loaded.some((u) => /\/node_modules\/@tensorflow\//.test(u))).toBe(true);
  }, 120_000);

  it("imports @cairn/pipeline only through its queues entry (a lazy import('@cairn/pipeline') would load the engine on first use)", () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const file = join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else if (/\.tsx?$/.test(name) && !/\.test\.ts$/.test(name) && /['"]@cairn\/(pipeline|engine)(?!\/queues['"])/.test(readFileSync(file, 'utf8'))) offenders.push(relative(here, file));
      }
    };
    walk(here);
    expect(offenders).toEqual([]);
  });
});
