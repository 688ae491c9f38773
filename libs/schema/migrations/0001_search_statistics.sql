-- Extended statistics for run search. A param value like 'adam' is common under the
-- key 'optimizer' and absent elsewhere; without statistics on (key, value) together
-- the planner multiplies the two selectivities, underestimates a filter by 20x and
-- picks per-row index probes over a hash join. Drizzle-kit does not model these.
CREATE STATISTICS IF NOT EXISTS "params_key_value_stats" (mcv, dependencies) ON "key", "value" FROM "params";
--> statement-breakpoint
CREATE STATISTICS IF NOT EXISTS "metric_summaries_key_last_stats" (mcv, dependencies) ON "key", "last" FROM "metric_summaries";
