import { testEngines } from '@cairn/store/testing';
import { PGlite } from '@electric-sql/pglite';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
for (const eng of testEngines()) {
  const store = await eng.open();
  const exp = await store.ensureExperiment({ name: 'bench' });
  const runsList = await Promise.all([0,1].map(() => store.createRun({ experimentId: exp.id })));
  const total = eng.name === 'pglite' ? 200_000 : 1_000_000, batch = 10_000, per = total / 2;
  const batches = Array.from({length: per / batch}, (_, b) => { const pts = []; for (let i = 0; i < batch; i++) { const step = b * 1000 + Math.floor(i / 10); pts.push({ key: `m${i % 10}`, value: Math.random(), step, wallMs: 1.7e12 + step }); } return pts; });
  const t = performance.now();
  await Promise.all(runsList.map(async (run) => { for (const pts of batches) await store.logMetrics(run.id, pts); }));
  const s = (performance.now() - t) / 1000;
  console.log(eng.name, Math.round(total / s), 'pts/s', s.toFixed(1), 's');
  if (eng.name === 'pglite') {
    const dir = store.location; await store.close();
    let t0 = performance.now(); const db = await PGlite.create(dir); console.log('raw open ms', performance.now() - t0);
    const rid = crypto.randomUUID();
    const lines = batches.map(pts => new Blob([pts.map(p => `${rid}\t${p.key}\t${p.step}\t${p.wallMs}\t${p.value}\n`).join('')]));
    t0 = performance.now();
    for (const bl of lines) await db.query(`COPY metrics (run_id,key,step,wall_ms,value) FROM '/dev/blob'`, [], { blob: bl });
    const s2 = (performance.now() - t0) / 1000; console.log('pglite copy', Math.round(per / s2), 'pts/s');
    console.log((await db.query('select count(*)::int n from metrics')).rows, (await db.query('select version()')).rows);
    await db.close();
  }
  await eng.cleanup();
}
