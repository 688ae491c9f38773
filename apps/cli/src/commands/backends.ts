import type { Command } from 'commander';
import { colors, out, outJson, outputWidth } from '../output/io.ts';
import { renderTable, type Cell, type Column } from '../output/table.ts';
import { cliConfig } from '../config.ts';

export function registerBackends(program: Command): void {
  program
    .command('backends')
    .description('list the trainers and the tfjs backends, best first, and why each is or is not usable here')
    .option('--json', 'print {trainers: [{name, usable, reason, detail}], autoTrainer, forcedTrainer, backends: [{name, usable, reason, detail}], auto, forced} as JSON')
    .addHelpText(
      'after',
      `
A run trains on the first trainer that is usable here and supports its model: native-cuda
(NVIDIA GPUs), native-cpu (Cairn's C++ core), then tfjs, which trains any model on the
backend ladder below. A model with a layer, loss or optimizer a native trainer lacks falls
through, and the run's environment says why. Force one with 'cairn run --trainer NAME' or
CAIRN_TRAINER=NAME; forcing a tfjs backend (--backend, CAIRN_BACKEND) means the tfjs trainer.

tfjs runs take the first usable backend, unless its kernels cannot train the model (wasm lacks
Conv2DBackpropFilter, so CNNs fall through to cpu). Force one with 'cairn run --backend NAME'
or CAIRN_BACKEND=NAME; a forced backend that cannot be used is an error, not a fallback.`,
    )
    .action(async (opts: { json?: boolean }) => {
      // Loaded here, not at startup: tfjs is only needed by the commands that train.
      const { KNOWN_TRAINERS, loadTrainerModules, parseBackendName, parseTrainerName, probeBackends, probeTrainers, releaseBackend } = await import('@cairn/engine');
      const env = cliConfig();
      const forced = (env.backend !== undefined ? parseBackendName(env.backend, 'CAIRN_BACKEND') : undefined) ?? null;
      const forcedTrainer = (env.trainer !== undefined ? parseTrainerName(env.trainer, 'CAIRN_TRAINER') : undefined) ?? null;
      const loads = await loadTrainerModules((await import('@cairn/pipeline')).TRAINER_MODULES);
      const probed = probeTrainers();
      // Trainers Cairn ships that did not register (their module did not load) are listed with why.
      const notLoaded = loads.filter((l) => !l.ok).map((l) => l.reason!).join('; ');
      const trainers = [
        ...KNOWN_TRAINERS.map((name) => probed.find((t) => t.name === name) ?? { name, usable: false, reason: notLoaded || 'not registered in this process' }),
        ...probed.filter((t) => !(KNOWN_TRAINERS as readonly string[]).includes(t.name)),
      ];
      // Without a model, the first usable trainer; a model it cannot train goes further down.
      const autoTrainer = trainers.find((t) => t.usable)?.name ?? null;
      let probes;
      try {
        probes = await probeBackends();
      } finally {
        releaseBackend();
      }
      const auto = probes.find((p) => p.usable)?.name ?? null;
      if (opts.json) {
        outJson({
          trainers: trainers.map((t) => ({ name: t.name, usable: t.usable, reason: t.reason, detail: t.detail ?? null })),
          autoTrainer,
          forcedTrainer,
          backends: probes.map((p) => ({ name: p.name, usable: p.usable, reason: p.reason, detail: p.detail ?? null })),
          auto,
          forced,
        });
        return;
      }
      const trainerRows = trainers.map((t): Cell[] => [
        t.name,
        t.usable ? { text: 'yes', style: colors.green } : { text: 'no', style: colors.dim },
        t.detail ? `${t.reason} — ${t.detail}` : t.reason,
      ]);
      out(renderTable([{ header: 'TRAINER' }, { header: 'USABLE' }, { header: 'WHY', min: 30 }], trainerRows, { width: outputWidth() }));
      out();
      if (forcedTrainer) {
        const t = trainers.find((x) => x.name === forcedTrainer);
        out(t?.usable ? `CAIRN_TRAINER=${forcedTrainer} forces ${forcedTrainer}.` : colors.yellow(`CAIRN_TRAINER=${forcedTrainer} forces ${forcedTrainer}, which is not usable here: runs will fail.`));
      } else if (autoTrainer) {
        out(`Runs train on ${colors.bold(autoTrainer)} here when it supports the model, else on the next trainer down.`);
      }
      out();
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
