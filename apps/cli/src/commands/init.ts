import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { resolveLocation } from '@cairn/store';
import { globalOptions, storeOptions, withStore } from '../context.ts';
import { colors, out, outJson } from '../output/io.ts';
import { renderPairs } from '../output/table.ts';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create the store (CAIRN_HOME with an embedded database, or the schema in PostgreSQL) and say where it is')
    .option('--json', 'print {driver, location, created} as JSON')
    .addHelpText('after', '\nWith --home DIR (or $CAIRN_HOME) the store is created there; with --db URL (or $DATABASE_URL) in that PostgreSQL database.')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      const loc = resolveLocation(storeOptions(g));
      const existed = loc.driver === 'pglite' ? fs.existsSync(path.join(loc.dataDir, 'PG_VERSION')) : null;
      const { driver, location } = await withStore(g, async (store) => ({ driver: store.driver, location: store.location }), { create: true });
      const home = loc.driver === 'pglite' ? loc.home : null;
      if (opts.json) {
        outJson({ driver, location, home, created: existed === null ? null : !existed });
        return;
      }
      const headline =
        existed === null
          ? `Cairn store ready in PostgreSQL (schema up to date)`
          : existed
            ? `Cairn store already initialized in ${home} (schema up to date)`
            : `Initialized a Cairn store in ${home}`;
      out(colors.green(headline));
      out(
        renderPairs([
          ['driver', driver === 'pglite' ? 'pglite (embedded, one process at a time)' : 'postgres'],
          ['location', location],
        ]),
      );
      // Say how to reach it when the other commands would not find it by default.
      const byDefault = resolveLocation(storeOptions({}));
      if (loc.driver === 'pglite' && (byDefault.driver !== 'pglite' || byDefault.home !== loc.home)) {
        out(colors.dim(`\nOther commands find it with --home ${loc.home}, or: export CAIRN_HOME=${loc.home}`));
      } else if (loc.driver === 'postgres' && (byDefault.driver !== 'postgres' || byDefault.url !== loc.url)) {
        out(colors.dim(`\nOther commands find it with --db <url>, or: export DATABASE_URL=<url>`));
      }
    });
}
