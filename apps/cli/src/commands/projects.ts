import type { Command } from 'commander';
import { teams } from '@cairn/schema';
import { globalOptions, withStore } from '../context.ts';
import { UsageError } from '../errors.ts';
import { colors, info, out, outJson, outputWidth } from '../output/io.ts';
import { renderTable } from '../output/table.ts';

export function registerProjects(program: Command): void {
  const projects = program.command('projects').description('projects and the teams that own them (team mode)');

  projects
    .command('list')
    .alias('ls')
    .description('every project with its owning team')
    .option('--json', 'print {projects: [...]} as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { list, owners } = await withStore(globalOptions(cmd), async (store) => ({
        list: await store.listProjects(),
        owners: await store.drizzle().select({ id: teams.id, slug: teams.slug }).from(teams),
      }));
      const slug = new Map(owners.map((t) => [t.id, t.slug]));
      if (opts.json) {
        outJson({ projects: list.map((p) => ({ id: p.id, name: p.name, description: p.description, team: p.teamId ? (slug.get(p.teamId) ?? p.teamId) : null, teamId: p.teamId })) });
        return;
      }
      if (list.length === 0) return info('No projects yet.');
      const rows = list.map((p) => [p.name, p.teamId ? (slug.get(p.teamId) ?? p.teamId) : { text: 'no team', style: colors.dim }, p.description]);
      out(renderTable([{ header: 'NAME', max: 40, min: 10 }, { header: 'TEAM', max: 30, min: 8 }, { header: 'DESCRIPTION', min: 10 }], rows, { width: outputWidth() }));
    });

  projects
    .command('team')
    .description("give a project to a team, or take it from its team with --none (team mode shows a project only to its team's members)")
    .argument('<project>', 'project name')
    .argument('[team]', 'team slug or id')
    .option('--none', 'take the project from its team')
    .option('--json', 'print the project as JSON')
    .addHelpText(
      'after',
      `
A project made before team mode was switched on (CAIRN_AUTH=team) has no team, so no
account sees it in the portal. Whoever runs the store gives it one:

Examples:
  cairn projects team default research
  cairn projects team default --none`,
    )
    .action(async (project: string, team: string | undefined, opts: { none?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.none ? team !== undefined : team === undefined) throw new UsageError('name a team, or pass --none to take the project from its team (not both)');
      const p = await withStore(globalOptions(cmd), (store) => store.setProjectTeam(project, opts.none ? null : team!));
      if (opts.json) return outJson({ project: { id: p.id, name: p.name, team: p.team?.slug ?? null, teamId: p.teamId } });
      out(p.team ? `Project ${colors.bold(p.name)} now belongs to team ${colors.bold(p.team.slug)} (${p.team.name}).` : `Project ${colors.bold(p.name)} has no team now.`);
    });
}
