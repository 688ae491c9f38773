import { cruise, type IFlattenedRuleSet, type IForbiddenRuleType, type ICruiseResult } from 'dependency-cruiser';

/**
 * The import graph's rules, checked by dependency-cruiser over the real files:
 * no import cycle anywhere (type-only imports included: a cycle of types is still a
 * knot to untie before a file can move), an app never imports another app, a lib
 * never imports an app, and a lib never imports one that builds on it (the
 * architecture's "Dependency direction").
 */

/** A lib and the libs it builds on, as the architecture draws them. */
export const BUILDS_ON: Record<string, readonly string[]> = {
  schema: [],
  config: ['schema'],
  http: [],
  portal: [],
  store: ['schema'],
  tracking: ['store', 'config', 'http'],
  snapshot: ['schema'],
  engine: ['schema'],
  native: ['engine'],
  models: ['engine', 'store', 'snapshot', 'http'],
  pipeline: ['engine', 'tracking', 'snapshot', 'store', 'config'],
  api: ['store', 'snapshot', 'pipeline', 'config', 'http'],
};

/** Libs other services import without a database or Redis, and the libs that would bring one in. */
const NO_DATABASE = ['engine', 'snapshot'];
const DATABASE_SIDE = ['store', 'tracking', 'models', 'pipeline', 'api'];

/** Every lib below `lib` in BUILDS_ON, directly or through others. */
function below(lib: string, seen = new Set<string>()): Set<string> {
  for (const next of BUILDS_ON[lib] ?? []) {
    if (!seen.has(next)) {
      seen.add(next);
      below(next, seen);
    }
  }
  return seen;
}

/** The libs `lib` must not import: those that build on it (an import back up the graph), and for engine and snapshot the database side. */
export function libsAbove(lib: string): string[] {
  const above = Object.keys(BUILDS_ON).filter((other) => other !== lib && below(other).has(lib));
  if (NO_DATABASE.includes(lib)) above.push(...DATABASE_SIDE);
  return [...new Set(above)].sort();
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const RULES: IFlattenedRuleSet = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle, type-only imports included: the graph inside a lib and between libs stays a tree',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-other-app',
      comment: 'an app imports another app: what two apps share belongs in a lib',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'lib-not-to-app',
      comment: 'a lib imports an app: libs are packages other repositories install',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    // A workspace package that does not resolve to its sources would hide its imports from every rule above.
    {
      name: 'workspace-unresolved',
      comment: 'an @cairn/* import that does not resolve to a file',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, path: '^@cairn/' },
    },
    {
      name: 'relative-unresolved',
      comment: 'a relative import that does not resolve to a file',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, path: '^\\.' },
    },
    ...Object.keys(BUILDS_ON)
      .map((lib): IForbiddenRuleType | null => {
        const above = libsAbove(lib);
        if (above.length === 0) return null;
        return {
          name: 'lib-against-direction',
          comment: `libs/${lib} imports a lib that builds on it (${above.join(', ')})`,
          severity: 'error',
          from: { path: `^libs/${escape(lib)}/` },
          to: { path: `^libs/(${above.map(escape).join('|')})/` },
        };
      })
      .filter((r): r is IForbiddenRuleType => r !== null),
  ],
};

export interface ImportViolation {
  rule: string;
  from: string;
  to: string;
  /** For a cycle: the files around it, starting and ending at its first file in sort order. */
  cycle?: string[];
}

export interface ImportGraph {
  violations: ImportViolation[];
  /** Every file cruised, with what each import resolved to (paths relative to the base folder). */
  modules: { source: string; dependencies: { module: string; resolved: string }[] }[];
}

/** A cycle written from its smallest file, so the same cycle found from each of its edges reads the same. */
function normaliseCycle(files: string[]): string[] {
  const start = files.indexOf([...files].sort()[0]!);
  const rotated = [...files.slice(start), ...files.slice(0, start)];
  return [...rotated, rotated[0]!];
}

/**
 * Cruises `paths` (files or folders, relative to `baseDir`) and every file they import,
 * outside node_modules. `@cairn/*` packages resolve through npm's workspace symlinks to
 * their real files (libs/store/src/index.ts, apps/web/build/…), so an import of
 * `@cairn/web/build` is an import of the app.
 */
export async function checkImportGraph(baseDir: string, paths: string[]): Promise<ImportGraph> {
  const result = await cruise(
    paths,
    {
      baseDir,
      validate: true,
      ruleSet: RULES,
      tsPreCompilationDeps: true,
      preserveSymlinks: false,
      doNotFollow: { path: 'node_modules' },
      exclude: { path: ['(^|/)node_modules/', '(^|/)\\.next/', '(^|/)dist/'] },
      enhancedResolveOptions: {
        exportsFields: ['exports'],
        conditionNames: ['import', 'require', 'node', 'types', 'default'],
        extensions: ['.ts', '.tsx', '.mts', '.cts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
      },
    },
    {},
  );
  const output = result.output as ICruiseResult;
  const violations = new Map<string, ImportViolation>();
  for (const v of output.summary.violations) {
    const cycle = v.cycle ? normaliseCycle(v.cycle.map((c) => c.name)) : undefined;
    const violation: ImportViolation = cycle ? { rule: v.rule.name, from: cycle[0]!, to: cycle[1]!, cycle } : { rule: v.rule.name, from: v.from, to: v.to };
    violations.set(formatViolation(violation), violation);
  }
  const modules = output.modules
    .filter((m) => !m.coreModule && !m.source.includes('node_modules/'))
    .map((m) => ({ source: m.source, dependencies: m.dependencies.map((d) => ({ module: d.module, resolved: d.resolved })) }));
  return { violations: [...violations.values()].sort((a, b) => formatViolation(a).localeCompare(formatViolation(b))), modules };
}

export function formatViolation(v: ImportViolation): string {
  return v.cycle ? `${v.rule}: ${v.cycle.join(' → ')}` : `${v.rule}: ${v.from} → ${v.to}`;
}
