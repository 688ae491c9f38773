import { defineConfig } from 'drizzle-kit';

// Migrations are generated once from the schema and applied by the store on open,
// on PGlite and PostgreSQL alike.
export default defineConfig({
  dialect: 'postgresql',
  schema: './libs/schema/src/tables.ts',
  out: './libs/schema/migrations',
});
