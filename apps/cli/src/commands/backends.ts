import type { Command } from 'commander';
import { colors, out, outJson, outputWidth } from '../output/io.ts';
import { renderTable, type Cell, type Column } from '../output/table.ts';

export function registerBackends(program: Command): void {
  program
    .command('backends')
    .description('list the tfjs backends, best first, and why each is or is not usable here')
    .option('--json', 'print {backends: [{name, usable, reason, detail}], auto, forced} as JSON')
    .addHelpText(
      'after',
      `
Runs take the first usable backend, unless its kernels cannot train the model (wasm lacks
Conv2DBackpropFilter, so CNNs fall through to cpu). Force one with 'cairn run --backend NAME'
or CAIRN_BACKEND=NAME; a forced backend that cannot be used is an error, not a fallback.`,
    )
    .action(async (opts: { json?: boolean }) => {
      // Loaded here, not at startup: tfjs is only needed by the commands that train.
      const { backendFromEnv, probeBackends, releaseBackend } = await import('@cairn/engine');
      const forced = backendFromEnv() ?? null;
      let probes;
      try {
        probes = await probeBackends();
      } finally {
        releaseBackend();
      }
      const auto = probes.find((p) => p.usable)?.name ?? null;
      if (opts.json) {
        outJson({ backends: probes.map((p) => ({ name: p.name, usable: p.usable, reason: p.reason, detail: p.detail ?? null })), auto, forced });
        return;
      }
      const columns: Column[] = [{ header: 'BACKEND' }, { header: 'USABLE' }, { header: 'WHY', min: 30 }];
      const rows = probes.map((p): Cell[] => [
        p.name,
        p.usable ? { text: 'yes', style: colors.green } : { text: 'no', style: colors.dim },
        p.detail ? `${p.reason} — ${p.detail}` : p.reason,
      ]);
      out(renderTable(columns, rows, { width: outputWidth() }));
      out();
      if (auto) out(`Runs use ${colors.bold(auto)} here, or the next usable backend when a model needs a kernel ${auto} lacks.`);
      if (forced) {
        const p = probes.find((b) => b.name === forced)!;
        out(p.usable ? `CAIRN_BACKEND=${forced} forces ${forced}.` : colors.yellow(`CAIRN_BACKEND=${forced} forces ${forced}, which is not usable here: runs will fail.`));
      } else {
        out(colors.dim(`Force one with 'cairn run --backend NAME' or CAIRN_BACKEND=NAME.`));
      }
    });
}
