import type { Command } from 'commander';
import { RUN_STATUSES, type RunStatus } from '@cairn/schema';
import type { ExperimentSummary } from '@cairn/store';
import { globalOptions, withStore } from '../context.ts';
import { formatRelative, statusStyle } from '../output/format.ts';
import { colors, info, out, outJson, outputWidth } from '../output/io.ts';
import { renderTable, type Cell, type Column } from '../output/table.ts';

// Most telling first: what is going on, then how it ended.
const STATUS_ORDER: readonly RunStatus[] = ['running', 'queued', 'finished', 'failed', 'abandoned', 'cancelled'];

export function registerExperiments(program: Command): void {
  const experiments = program.command('experiments').alias('exp').description('list experiments');

  experiments
    .command('list')
    .alias('ls')
    .description('experiments with their run counts by status and last activity')
    .option('-a, --all', 'include archived experiments')
    .option('--json', 'print {experiments: [...]} as JSON')
    .action(async (opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      const { list, projects } = await withStore(globalOptions(cmd), async (store) => ({
        list: await store.listExperiments({ includeArchived: Boolean(opts.all) }),
        projects: await store.listProjects(),
      }));
      const projectName = new Map(projects.map((p) => [p.id, p.name]));
      if (opts.json) {
        outJson({
          experiments: list.map((e) => ({
            id: e.id,
            name: e.name,
            project: projectName.get(e.projectId) ?? null,
            projectId: e.projectId,
            description: e.description,
            createdAt: e.createdAt,
            archivedAt: e.archivedAt,
            tags: e.tags,
            runCount: e.runCount,
            runCounts: Object.fromEntries(RUN_STATUSES.map((s) => [s, e.runCounts[s] ?? 0])),
            lastActivityAt: e.lastActivityAt,
          })),
        });
        return;
      }
      if (list.length === 0) {
        info(opts.all ? 'No experiments yet.' : "No experiments (archived ones show with --all). Runs tracked with @cairn/tracking create them.");
        return;
      }
      const showProject = new Set(list.map((e) => e.projectId)).size > 1;
      const columns: Column[] = [
        { header: 'NAME', max: 40, min: 12 },
        ...(showProject ? [{ header: 'PROJECT', max: 20, min: 8 }] : []),
        { header: 'RUNS', align: 'right' },
        { header: 'BY STATUS', min: 20 },
        { header: 'LAST ACTIVITY' },
      ];
      const rows = list.map((e): Cell[] => [
        e.archivedAt ? { text: `${e.name} (archived)`, style: colors.dim } : e.name,
        ...(showProject ? [projectName.get(e.projectId) ?? e.projectId] : []),
        String(e.runCount),
        byStatus(e),
        e.lastActivityAt ? formatRelative(e.lastActivityAt) : { text: 'never', style: colors.dim },
      ]);
      out(renderTable(columns, rows, { width: outputWidth() }));
    });
}

/** "3 finished, 1 failed, 2 abandoned", each count in its status colour. */
function byStatus(e: ExperimentSummary): Cell {
  const text = STATUS_ORDER.filter((s) => (e.runCounts[s] ?? 0) > 0)
    .map((s) => `${e.runCounts[s]} ${s}`)
    .join(', ');
  if (!text) return { text: '-', style: colors.dim };
  // The style sees the text after truncation, so it colours whatever parts are left.
  return { text, style: (t) => t.replace(/\d+ ([a-z]+)/g, (part, s: string) => statusStyle(s)(part)) };
}
