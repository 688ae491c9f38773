import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CairnError, ValidationError } from '@cairn/schema';
import { TIER_DEFAULTS, TIERS, type TierSettings, type TrainingDefinition } from '@cairn/engine';
import { parseFilter } from '@cairn/store';
import {
  DEFAULT_PIPELINE_CONFIG,
  PipelineConfigError,
  candidateFilter,
  cronError,
  defineConfig,
  definitionForTier,
  findPipelineConfigFile,
  loadPipelineConfig,
  promotionsFor,
  resolvePipelineConfig,
  tierSettingsFor,
  type PipelineConfig,
} from './index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh project folder holding these files (a new folder each time: imports are cached by URL). */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-pipeline-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function problems(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PipelineConfigError);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as CairnError).code).toBe('INVALID_INPUT');
    return (e as PipelineConfigError).problems;
  }
  throw new Error('expected a PipelineConfigError');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('defaults', () => {
  const t = DEFAULT_PIPELINE_CONFIG.tiers;

  it('follow the issue: ci 1% for 5 minutes, extended 10% for an hour with trend and median', () => {
    expect(t.ci).toMatchObject({ subset: 0.01, timeBudgetMs: 5 * 60_000, promotesTo: 'extended', evaluateTest: false });
    expect(t.extended).toMatchObject({ subset: 0.1, timeBudgetMs: 60 * 60_000, evaluateTest: false });
    expect(t.extended.policies.map((p) => p.kind)).toEqual(['trend', 'median']);
    expect(t.extended.promotesTo).toBeUndefined();
  });

  it('schedule nightly on the full split with the test set, weekly on the latest snapshot', () => {
    expect(t.nightly).toMatchObject({ subset: 1, schedule: '0 2 * * *', evaluateTest: true, snapshot: 'pinned', candidatesFrom: 'extended' });
    expect(t.weekly).toMatchObject({ subset: 1, schedule: '0 3 * * 0', evaluateTest: true, snapshot: 'latest', candidatesFrom: 'extended' });
    expect(t.ci.schedule).toBeUndefined();
    expect(t.extended.schedule).toBeUndefined();
    expect(DEFAULT_PIPELINE_CONFIG.queuePrefix).toBe('cairn');
  });

  it('are valid by their own rules: gates parse, crons read, priorities order cheap tiers first', () => {
    expect(resolvePipelineConfig({})).toEqual(DEFAULT_PIPELINE_CONFIG);
    for (const tier of TIERS) {
      const { gate, schedule } = t[tier];
      if (gate !== undefined) expect(parseFilter(gate)).not.toBeNull();
      if (schedule !== undefined) expect(cronError(schedule)).toBeNull();
    }
    const priorities = TIERS.map((tier) => t[tier].priority);
    expect([...priorities].sort((a, b) => a - b)).toEqual(priorities);
  });

  it('are frozen, and resolving gives a copy that can be changed', () => {
    expect(Object.isFrozen(t.extended.policies)).toBe(true);
    const c = resolvePipelineConfig({});
    c.tiers.extended.policies.push({ kind: 'nan' });
    expect(DEFAULT_PIPELINE_CONFIG.tiers.extended.policies).toHaveLength(2);
  });
});

describe('resolvePipelineConfig', () => {
  it('merges each tier field by field over its defaults', () => {
    const c = resolvePipelineConfig({
      tiers: {
        ci: { subset: 0.05, resources: { gpu: true }, retry: { attempts: 4 } },
        extended: { policies: [{ kind: 'plateau', patience: 2 }] },
      },
      redisUrl: 'redis://queue:6379/2',
    });
    expect(c.tiers.ci).toEqual({ ...DEFAULT_PIPELINE_CONFIG.tiers.ci, subset: 0.05, resources: { gpu: true }, retry: { ...DEFAULT_PIPELINE_CONFIG.tiers.ci.retry, attempts: 4 } });
    // A list replaces the default list.
    expect(c.tiers.extended.policies).toEqual([{ kind: 'plateau', patience: 2 }]);
    expect(c.tiers.nightly).toEqual(DEFAULT_PIPELINE_CONFIG.tiers.nightly);
    expect(c.redisUrl).toBe('redis://queue:6379/2');
    expect(c.queuePrefix).toBe('cairn');
  });

  it('clears optional defaults with null', () => {
    const c = resolvePipelineConfig({ tiers: { ci: { promotesTo: null, gate: null }, weekly: { schedule: null, candidatesFrom: null } } });
    expect('gate' in c.tiers.ci).toBe(false);
    expect('promotesTo' in c.tiers.ci).toBe(false);
    expect(c.tiers.weekly.schedule).toBeUndefined();
    expect(promotionsFor(c, 'ci')).toEqual([]);
  });

  it('lists every problem at once, each with its path', () => {
    const found = problems(() =>
      resolvePipelineConfig({
        tiers: {
          ci: { subset: 0, subsett: 0.1, priority: 0, retry: { attempts: 1.5 } },
          extended: { policies: [{ kind: 'trend', window: 2 }], gate: 'metrics.acc >= ' },
          nightly: { schedule: '0 25 * * *', promotesTo: 'monthly' },
          monthly: {},
        },
        queuePrefix: 'has space',
      }),
    );
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        'tiers.ci.subset',
        'tiers.ci',
        'tiers.ci.priority',
        'tiers.ci.retry.attempts',
        'tiers.extended.policies.0.window',
        'tiers.extended.gate',
        'tiers.nightly.schedule',
        'tiers.nightly.promotesTo',
        'tiers',
        'queuePrefix',
      ].sort(),
    );
    expect(byPath['tiers.ci.subset']).toBe('must be a fraction in (0, 1], got 0');
    expect(byPath['tiers.ci']).toMatch(/unknown key "subsett"/);
    expect(byPath['tiers']).toMatch(/unknown key "monthly".*allowed: ci, extended, nightly, weekly/);
    expect(byPath['tiers.nightly.schedule']).toMatch(/hour "25"/);
    expect(byPath['tiers.nightly.promotesTo']).toMatch(/one of 'ci', 'extended', 'nightly', 'weekly'/);
  });

  it('names the tier and the column of a gate that does not parse', () => {
    const e = (() => {
      try {
        resolvePipelineConfig({ tiers: { extended: { gate: "metrics.val_accuracy >= 0.9 and metrics.loss.min < 'low'" } } }, 'cairn.config.ts');
      } catch (err) {
        return err as Error;
      }
      throw new Error('expected a failure');
    })();
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toMatch(/^invalid cairn\.config\.ts: tiers\.extended\.gate: filter syntax error at column \d+: metrics\.loss\.min is a number/);
    expect(problems(() => resolvePipelineConfig({ tiers: { ci: { gate: '  ' } } }))).toEqual([{ path: 'tiers.ci.gate', message: expect.stringMatching(/needs an expression/) }]);
  });

  it('checks promotion across tiers', () => {
    expect(problems(() => resolvePipelineConfig({ tiers: { extended: { promotesTo: 'ci' } } }))).toEqual([
      { path: 'tiers.ci.promotesTo', message: 'promotion goes round in a circle: ci → extended → ci' },
    ]);
    expect(problems(() => resolvePipelineConfig({ tiers: { weekly: { promotesTo: 'weekly' } } }))[0]!.message).toMatch(/itself/);
    expect(problems(() => resolvePipelineConfig({ tiers: { ci: { gate: null } } }))).toEqual([{ path: 'tiers.ci.promotesTo', message: expect.stringMatching(/needs a gate/) }]);
    const noGate = problems(() => resolvePipelineConfig({ tiers: { extended: { gate: null } } }));
    expect(noGate.map((p) => p.path)).toEqual(['tiers.nightly.candidatesFrom', 'tiers.weekly.candidatesFrom']);
    expect(problems(() => resolvePipelineConfig({ tiers: { nightly: { schedule: null } } }))).toEqual([
      { path: 'tiers.nightly.candidatesFrom', message: expect.stringMatching(/only a scheduled tier/) },
    ]);
  });

  it('refuses a non-object, bad URLs and bad time zones, and keeps passwords out of messages', () => {
    expect(problems(() => resolvePipelineConfig([]))[0]!.message).toMatch(/must be an object/);
    const bad = problems(() => resolvePipelineConfig({ redisUrl: 'http://user:secret@host', tiers: { nightly: { timezone: 'Mars/Olympus' } } }));
    expect(bad.map((p) => p.path).sort()).toEqual(['redisUrl', 'tiers.nightly.timezone']);
    expect(JSON.stringify(bad)).not.toContain('secret');
    expect(resolvePipelineConfig({ tiers: { nightly: { timezone: 'Europe/Paris' } } }).tiers.nightly.timezone).toBe('Europe/Paris');
  });
});

describe('loadPipelineConfig', () => {
  it('gives the defaults when the project has no config file', async () => {
    const dir = project({});
    expect(findPipelineConfigFile(dir)).toBeNull();
    expect(await loadPipelineConfig(dir)).toEqual(DEFAULT_PIPELINE_CONFIG);
  });

  it('imports a TypeScript cairn.config.ts and merges it over the defaults', async () => {
    const dir = project({
      'cairn.config.ts': [
        "type Tier = 'ci' | 'extended';",
        'const subset: number = 0.03;',
        "const tiers: Record<Tier, { subset?: number; gate?: string }> = { ci: { subset }, extended: { gate: 'metrics.acc >= 0.8' } };",
        "export default { tiers, queuePrefix: 'proj' };",
      ].join('\n'),
    });
    const c = await loadPipelineConfig(dir);
    expect(c.tiers.ci.subset).toBe(0.03);
    expect(c.tiers.ci.timeBudgetMs).toBe(5 * 60_000);
    expect(c.tiers.extended.gate).toBe('metrics.acc >= 0.8');
    expect(c.queuePrefix).toBe('proj');
  });

  it('loads a config written with defineConfig that imports the pipeline', async () => {
    const dir = join(here, '../fixtures/config/typed');
    expect(findPipelineConfigFile(dir)).toBe(join(dir, 'cairn.config.ts'));
    const c = await loadPipelineConfig(dir);
    expect(c.queuePrefix).toBe('digits');
    expect(c.tiers.ci).toMatchObject({ subset: 0.02, timeBudgetMs: 5 * 60_000, resources: { gpu: false } });
    expect(c.tiers.extended.policies).toEqual([{ kind: 'plateau', patience: 3 }]);
    expect(c.tiers.nightly).toMatchObject({ schedule: '30 1 * * *', resources: { gpu: true }, retry: { attempts: 5, backoffMs: 60_000 } });
    expect(defineConfig({ queuePrefix: 'x' })).toEqual({ queuePrefix: 'x' });
  });

  it('loads .mjs, and prefers .ts when both exist', async () => {
    const mjs = project({ 'cairn.config.mjs': 'export default { tiers: { weekly: { priority: 9 } } };' });
    expect((await loadPipelineConfig(mjs)).tiers.weekly.priority).toBe(9);
    const both = project({
      'cairn.config.ts': 'export default { tiers: { weekly: { priority: 7 } } };',
      'cairn.config.js': 'export default { tiers: { weekly: { priority: 8 } } };',
    });
    expect(findPipelineConfigFile(both)).toBe(join(both, 'cairn.config.ts'));
    expect((await loadPipelineConfig(both)).tiers.weekly.priority).toBe(7);
  });

  it('names the file in one ValidationError listing every problem', async () => {
    const dir = project({ 'cairn.config.ts': "export default { tiers: { ci: { subset: 2, gate: 'metrics.acc >>= 1' } } };" });
    const e = await rejection(loadPipelineConfig(dir));
    expect(e).toBeInstanceOf(PipelineConfigError);
    expect(e.message).toContain(join(dir, 'cairn.config.ts'));
    expect((e as PipelineConfigError).problems.map((p) => p.path)).toEqual(['tiers.ci.subset', 'tiers.ci.gate']);
    expect(e.message).toMatch(/tiers\.ci\.gate: filter syntax error at column 14/);
  });

  it('says so when the file has no default export or fails to load', async () => {
    const none = await rejection(loadPipelineConfig(project({ 'cairn.config.ts': 'export const tiers = {};' })));
    expect(none).toBeInstanceOf(ValidationError);
    expect(none.message).toMatch(/no default export/);
    const broken = await rejection(loadPipelineConfig(project({ 'cairn.config.mjs': "throw new Error('boom');\nexport default {};" })));
    expect(broken).toBeInstanceOf(ValidationError);
    expect(broken.message).toMatch(/cairn\.config\.mjs failed to load: boom/);
  });
});

describe('tierSettingsFor', () => {
  const config = resolvePipelineConfig({});

  it("gives the engine the config's settings for the tier", () => {
    expect(tierSettingsFor(config, 'ci')).toEqual({ subset: 0.01, epochs: 1, timeBudgetMs: 5 * 60_000, policies: [] });
    expect(tierSettingsFor(config, 'extended')).toEqual({ subset: 0.1, timeBudgetMs: 60 * 60_000, policies: [{ kind: 'trend', window: 5 }, { kind: 'median' }] });
    expect(tierSettingsFor(config, 'nightly')).not.toHaveProperty('epochs');
  });

  it("lets the definition's tiers win, except that the time budget can only shrink", () => {
    const own: TrainingDefinition['tiers'] = { extended: { subset: 0.3, epochs: 4, policies: [{ kind: 'plateau', patience: 2 }], timeBudgetMs: 2 * 60 * 60_000 } };
    expect(tierSettingsFor(config, 'extended', own)).toEqual({ subset: 0.3, epochs: 4, timeBudgetMs: 60 * 60_000, policies: [{ kind: 'plateau', patience: 2 }] });
    expect(tierSettingsFor(config, 'extended', { extended: { timeBudgetMs: 60_000 } }).timeBudgetMs).toBe(60_000);
    // Other tiers of the definition do not leak in.
    expect(tierSettingsFor(config, 'ci', own)).toEqual(tierSettingsFor(config, 'ci'));
  });

  it("definitionForTier makes runTraining's own merge give exactly these settings", () => {
    const def = { name: 'x', tiers: { ci: { subset: 0.5 }, extended: { epochs: 2 } } } as unknown as TrainingDefinition;
    const custom: PipelineConfig = resolvePipelineConfig({ tiers: { nightly: { epochs: 12, policies: [{ kind: 'median', minEvaluations: 2 }] } } });
    for (const tier of TIERS) {
      const d = definitionForTier(def, custom, tier);
      // What run-training.ts does with a tier: TIER_DEFAULTS spread under the definition's tier.
      const used: TierSettings = { ...TIER_DEFAULTS[tier], ...d.tiers?.[tier] };
      expect(used).toEqual(tierSettingsFor(custom, tier, def.tiers));
      expect(d.name).toBe('x');
    }
    expect(def.tiers).toEqual({ ci: { subset: 0.5 }, extended: { epochs: 2 } });
  });
});

describe('promotion', () => {
  const config = resolvePipelineConfig({});

  it('pushes ci to extended; extended makes code a candidate for nightly and weekly', () => {
    expect(promotionsFor(config, 'ci')).toEqual([{ kind: 'enqueue', tier: 'extended' }]);
    expect(promotionsFor(config, 'extended')).toEqual([{ kind: 'eligible', tiers: ['nightly', 'weekly'] }]);
    expect(promotionsFor(config, 'nightly')).toEqual([]);
  });

  it('gives scheduled tiers a filter for their candidates', () => {
    const f = candidateFilter(config, 'nightly')!;
    expect(f).toBe("tier = 'extended' AND status = 'finished' AND gate.extended = 'passed'");
    expect(parseFilter(f)).not.toBeNull();
    expect(candidateFilter(config, 'ci')).toBeNull();
  });
});

describe('cronError', () => {
  it.each(['0 2 * * *', '0 3 * * 0', '*/15 * * * *', '0 0 1,15 * MON-FRI', '30 0 6 ? JAN-MAR sun', '0 0 2 * * 7', '5-10/2 * * * *', '0 0 * * THU'])('accepts %s', (p) => {
    expect(cronError(p)).toBeNull();
  });

  // What BullMQ runs and the old hand-written validator refused: aliases, last day (L),
  // nth weekday (#), a leap day.
  it.each(['@daily', '@weekly', '0 0 * * MON#2', '0 0 L * *', '0 0 * * 5L', '0 0 29 2 *'])('accepts %s, as BullMQ runs it', (p) => {
    expect(cronError(p)).toBeNull();
  });

  it.each([
    ['0 2 * *', /5 fields/],
    ['', /5 fields.*got 0/],
    ['* * * * * * *', /5 fields.*got 7/],
    ['60 * * * *', /minute "60"/],
    ['0 24 * * *', /hour "24"/],
    ['0 0 0 * *', /day of month "0"/],
    ['0 0 * 13 *', /month "13"/],
    ['0 0 * * 8', /day of week "8"/],
    ['0 0 10-5 * *', /day of month "10-5": invalid range/],
    ['*/0 * * * *', /minute "\*\/0": .*repeat at every 0/],
    ['? * * * *', /minute "\?": \? stands for a day/],
    ['1.5 * * * *', /minute "1\.5"/],
    ['0 0 15W * *', /day of month "15W"/],
    ['0 0 30 2 *', /day of month definition in cron pattern "0 0 30 2 \*"/],
    ['H 2 * * *', /minute "H": H \(a hashed value\) is not supported/],
    ['@reboot', /unknown alias "@reboot": the aliases are @yearly/],
  ])('refuses %s', (p, why) => {
    expect(cronError(p)).toMatch(why);
  });

  it('refuses a bad schedule in a config, naming the tier and the field', () => {
    expect(problems(() => resolvePipelineConfig({ tiers: { nightly: { schedule: '0 0 31 4 *' } } }))).toEqual([
      { path: 'tiers.nightly.schedule', message: expect.stringMatching(/in cron pattern "0 0 31 4 \*"/) },
    ]);
  });
});
