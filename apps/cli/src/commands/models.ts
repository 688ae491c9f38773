import type { Command } from 'commander';
import { LocalBlobStore } from '@cairn/snapshot';
import type { ModelVersion, Store } from '@cairn/store';
import { globalOptions, withStore } from '../context.ts';
import { UsageError } from '../errors.ts';
import { formatDateTime, formatRelative, oneLine, shortId } from '../output/format.ts';
import { colors, info, out, outJson, outputWidth } from '../output/io.ts';
import { renderTable, type Cell, type Column } from '../output/table.ts';
import { dataLocation } from './data.ts';

// The registry glue loads tfjs (packaging checks the model): only for the commands that need it.
const modelsLib = () => import('@cairn/models');

function tagPairs(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf('=');
  if (i < 1) throw new UsageError(`--tag takes KEY=VALUE, got '${oneLine(value)}'`);
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}

function versionJson(v: ModelVersion, aliases: string[] = []) {
  return { id: v.id, model: v.modelName, version: v.version, runId: v.runId, artifactHash: v.artifactHash, description: v.description, tags: v.tags, aliases, createdAt: v.createdAt };
}

async function aliasesOf(store: Store, v: ModelVersion): Promise<string[]> {
  const m = await store.getModel(v.modelName);
  return Object.entries(m.aliases)
    .filter(([, n]) => n === v.version)
    .map(([a]) => a);
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('the model registry: versions, aliases, packages');

  models
    .command('register')
    .argument('<run>', 'the run whose exported model to register (id or unique prefix)')
    .requiredOption('--name <name>', 'the model to add a version to (created on first use)')
    .option('--description <text>', 'what this version is')
    .option('--tag <key=value>', 'a version tag (repeatable)', tagPairs)
    .option('--alias <alias>', 'also point this alias at the new version (e.g. staging)')
    .option('--json', 'print the version as JSON')
    .description("register a run's exported model as the next version of a named model")
    .action(async (runRef: string, opts: { name: string; description?: string; tag?: Record<string, string>; alias?: string; json?: boolean }, cmd: Command) => {
      const { registerRunModel } = await modelsLib();
      const blobs = new LocalBlobStore(dataLocation(cmd).blobs);
      const v = await withStore(globalOptions(cmd), async (store) => {
        const runId = await store.resolveRunId(runRef);
        const created = await registerRunModel({ store, blobs, runId, name: opts.name, ...(opts.description !== undefined ? { description: opts.description } : {}), ...(opts.tag ? { tags: opts.tag } : {}) });
        if (opts.alias) await store.setModelAlias(created.modelName, opts.alias, created.version);
        return created;
      });
      if (opts.json) return outJson(versionJson(v, opts.alias ? [opts.alias] : []));
      out(`registered ${v.modelName}@${v.version} from run ${shortId(v.runId!)}${opts.alias ? `; ${opts.alias} → ${v.version}` : ''}`);
    });

  models
    .command('list')
    .alias('ls')
    .option('--json', 'print {models: [...]} as JSON')
    .description('models with their version count, newest version and aliases')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await withStore(globalOptions(cmd), (store) => store.listModels());
      if (opts.json) return outJson({ models: list });
      if (!list.length) return info("No models yet. Register a finished run's model with 'cairn models register RUN --name NAME'.");
      const columns: Column[] = [{ header: 'NAME', min: 10, max: 40 }, { header: 'VERSIONS', align: 'right' }, { header: 'LATEST', align: 'right' }, { header: 'ALIASES', min: 10 }, { header: 'UPDATED' }];
      const rows = list.map((m): Cell[] => [
        m.name,
        String(m.versionCount),
        m.latestVersion === null ? '-' : String(m.latestVersion),
        Object.entries(m.aliases).map(([a, v]) => `${a}→${v}`).join(', ') || { text: '-', style: colors.dim },
        m.updatedAt ? formatRelative(m.updatedAt) : { text: 'never', style: colors.dim },
      ]);
      out(renderTable(columns, rows, { width: outputWidth() }));
    });

  models
    .command('show')
    .argument('<ref>', 'NAME (all its versions), NAME@VERSION or NAME@ALIAS')
    .option('--json', 'print as JSON')
    .description("a model's versions and aliases, or one version with its run, code, data and deployments")
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const { parseModelRef, resolveRef } = await modelsLib();
      const parsed = parseModelRef(ref);
      await withStore(globalOptions(cmd), async (store) => {
        if (!ref.includes('@')) {
          const m = await store.getModel(parsed.name);
          if (opts.json) return outJson({ id: m.id, name: m.name, description: m.description, createdAt: m.createdAt, aliases: m.aliases, versions: m.versions.map((v) => versionJson(v, Object.keys(m.aliases).filter((a) => m.aliases[a] === v.version))) });
          out(`${colors.bold(m.name)}  ${m.versions.length} version${m.versions.length === 1 ? '' : 's'}${Object.keys(m.aliases).length ? `; ${Object.entries(m.aliases).map(([a, v]) => `${a}→${v}`).join(', ')}` : ''}`);
          const columns: Column[] = [{ header: 'VERSION', align: 'right' }, { header: 'ALIASES' }, { header: 'RUN' }, { header: 'REGISTERED' }, { header: 'DESCRIPTION', min: 10 }];
          out(
            renderTable(
              columns,
              m.versions.map((v): Cell[] => [String(v.version), Object.keys(m.aliases).filter((a) => m.aliases[a] === v.version).join(', ') || '-', v.runId ? shortId(v.runId) : '-', formatDateTime(v.createdAt), oneLine(v.description) || '-']),
              { width: outputWidth() },
            ),
          );
          return;
        }
        const v = await resolveRef(store, ref);
        const [aliases, deployments, run] = await Promise.all([aliasesOf(store, v), store.listDeployments({ modelVersionId: v.id }), v.runId ? store.getRun(v.runId) : null]);
        if (opts.json) return outJson({ ...versionJson(v, aliases), run: run && { id: run.id, name: run.name, status: run.status, gitSha: run.gitSha, gitDirty: run.gitDirty, codeHash: run.codeHash, snapshotIds: run.snapshotIds, params: run.params }, deployments });
        const lines = [
          `${colors.bold(`${v.modelName}@${v.version}`)}${aliases.length ? `  (${aliases.join(', ')})` : ''}`,
          `registered  ${formatDateTime(v.createdAt)}`,
          `artifact    ${v.artifactHash}`,
          ...(v.description ? [`description ${oneLine(v.description)}`] : []),
          ...(Object.keys(v.tags).length ? [`tags        ${Object.entries(v.tags).map(([k, t]) => `${k}=${t}`).join(' ')}`] : []),
          ...(run
            ? [
                `run         ${run.id} ${run.name} (${run.status})`,
                `code        ${run.gitSha ? `${run.gitSha.slice(0, 12)}${run.gitDirty ? ' (dirty)' : ''}` : 'no git'}${run.codeHash ? `, bundle ${run.codeHash.slice(0, 12)}` : ''}`,
                `data        ${run.snapshotIds.length ? run.snapshotIds.map((s) => s.slice(0, 12)).join(', ') : 'no snapshot'}`,
              ]
            : ['run         none recorded']),
          `deployments ${deployments.length ? deployments.map((d) => `${d.environment} on ${d.host} since ${formatDateTime(d.startedAt)}${d.stoppedAt ? ` (stopped ${formatDateTime(d.stoppedAt)})` : ''}`).join('; ') : 'none'}`,
        ];
        out(lines.join('\n'));
      });
    });

  models
    .command('alias')
    .argument('<ref>', 'NAME@VERSION (or NAME@ALIAS) to point the alias at; NAME with --remove')
    .argument('<alias>', 'the alias, e.g. production, staging, champion')
    .option('--remove', 'remove the alias instead')
    .option('--json', 'print the move as JSON')
    .description('move an alias to a version (atomically, with history), or remove it')
    .action(async (ref: string, alias: string, opts: { remove?: boolean; json?: boolean }, cmd: Command) => {
      const { parseModelRef, resolveRef } = await modelsLib();
      const parsed = parseModelRef(ref);
      if (!opts.remove && !ref.includes('@')) throw new UsageError(`say which version: ${parsed.name}@VERSION (or --remove)`);
      const move = await withStore(globalOptions(cmd), async (store) => store.setModelAlias(parsed.name, alias, opts.remove ? null : (await resolveRef(store, ref)).version));
      if (opts.json) return outJson(move);
      out(move.version === null ? `removed ${move.model}@${move.alias} (was ${move.previous})` : `${move.model}@${move.alias} → ${move.version}${move.previous !== null ? ` (was ${move.previous})` : ''}`);
    });

  models
    .command('history')
    .argument('<name>', 'the model')
    .option('--alias <alias>', 'one alias only')
    .option('--json', 'print {moves: [...]} as JSON')
    .description("every move of a model's aliases, oldest first")
    .action(async (name: string, opts: { alias?: string; json?: boolean }, cmd: Command) => {
      const moves = await withStore(globalOptions(cmd), (store) => store.aliasHistory(name, opts.alias));
      if (opts.json) return outJson({ moves });
      if (!moves.length) return info(`No alias of ${name} has moved yet.`);
      const columns: Column[] = [{ header: 'WHEN' }, { header: 'ALIAS' }, { header: 'VERSION', align: 'right' }, { header: 'WAS', align: 'right' }];
      out(renderTable(columns, moves.map((m): Cell[] => [formatDateTime(m.movedAt), m.alias, m.version === null ? 'removed' : String(m.version), m.previous === null ? '-' : String(m.previous)]), { width: outputWidth() }));
    });

  models
    .command('package')
    .argument('<ref>', 'NAME, NAME@VERSION or NAME@ALIAS')
    .requiredOption('--out <dir>', 'the folder to write (must be empty or absent)')
    .option('--force', 'replace a folder that is not empty')
    .option('--json', 'print the package manifest as JSON')
    .description('write a version as a self-contained folder that loadPackagedModel (@cairn/engine) loads')
    .action(async (ref: string, opts: { out: string; force?: boolean; json?: boolean }, cmd: Command) => {
      const { packageModel } = await modelsLib();
      const blobs = new LocalBlobStore(dataLocation(cmd).blobs);
      const r = await withStore(globalOptions(cmd), (store) => packageModel({ store, blobs, ref, outDir: opts.out, force: Boolean(opts.force) }));
      if (opts.json) return outJson({ dir: r.dir, manifest: r.manifest });
      out(`packaged ${r.version.modelName}@${r.version.version} into ${r.dir}: ${Object.keys(r.manifest.files).join(', ')}, cairn-model.json`);
    });
}
