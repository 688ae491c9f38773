import { openStore } from '@cairn/store';
import { testEngines } from '@cairn/store/testing';
for (const eng of testEngines()) {
  const store = await eng.open();
  const exp = await store.ensureExperiment({ name: 'bench' });
  for (const batch of [1000, 5000, 20000]) {
    for (const writers of [1, 2, 4]) {
      const runsList = await Promise.all(Array.from({ length: writers }, () => store.createRun({ experimentId: exp.id })));
      const total = 200_000;
      const perWriter = total / writers;
      const t = performance.now();
      await Promise.all(runsList.map(async (run) => {
        for (let off = 0; off < perWriter; off += batch) {
          const pts = [];
          for (let i = off; i < off + batch; i++) pts.push({ key: `m${i % 10}`, value: Math.random(), step: Math.floor(i / 10), wallMs: 1.7e12 + i });
          await store.logMetrics(run.id, pts);
        }
      }));
      const s = (performance.now() - t) / 1000;
      console.log(eng.name, 'batch', batch, 'writers', writers, Math.round(total / s), 'pts/s');
    }
  }
  await eng.cleanup();
}
