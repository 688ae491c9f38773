import { datasetsRouter } from './routers/datasets.ts';
import { experimentsRouter } from './routers/experiments.ts';
import { lineageRouter } from './routers/lineage.ts';
import { modelsRouter } from './routers/models.ts';
import { queuesRouter } from './routers/queues.ts';
import { runsRouter } from './routers/runs.ts';
import { sweepsRouter } from './routers/sweeps.ts';
import { teamsRouter } from './routers/teams.ts';
import { tokensRouter } from './routers/tokens.ts';
import { projectsRouter, systemRouter } from './routers/system.ts';
import { createCallerFactory, router } from './trpc.ts';

export const appRouter = router({
  system: systemRouter,
  projects: projectsRouter,
  experiments: experimentsRouter,
  runs: runsRouter,
  datasets: datasetsRouter,
  lineage: lineageRouter,
  models: modelsRouter,
  queues: queuesRouter,
  sweeps: sweepsRouter,
  teams: teamsRouter,
  tokens: tokensRouter,
});

export type AppRouter = typeof appRouter;

/** Server-side calls without HTTP (React server components, tests): `createCaller(createContext({ store }))`. */
export const createCaller = createCallerFactory(appRouter);
