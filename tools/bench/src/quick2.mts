import { testEngines } from '@cairn/store/testing';
for (const eng of testEngines()) {
  const store = await eng.open();
  const exp = await store.ensureExperiment({ name: 'bench' });
  const run = await store.createRun({ experimentId: exp.id });
  const n = 1_000_000;
  let t = performance.now();
  for (let off = 0; off < n; off += 20000) {
    const pts = [];
    for (let i = off; i < off + 20000; i++) pts.push({ key: 'loss', value: Math.sin(i / 1000) + (i === 500000 ? 100 : 0), step: i, wallMs: 1.7e12 + i });
    await store.logMetrics(run.id, pts);
  }
  console.log(eng.name, 'seed', performance.now() - t);
  for (const method of ['minmax', 'lttb'] as const) {
    for (let k = 0; k < 3; k++) {
      t = performance.now();
      const s = await store.getMetricSeries(run.id, 'loss', { maxPoints: 2000, method });
      console.log(eng.name, method, s.points.length, Math.round(performance.now() - t), 'ms');
    }
  }
  await eng.cleanup();
}
