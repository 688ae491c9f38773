ALTER TABLE "runs" ADD COLUMN "queue_prefix" text;--> statement-breakpoint
CREATE INDEX "runs_queued_prefix" ON "runs" USING btree ("queue_prefix","id") WHERE "runs"."status" = 'queued' AND "runs"."queue_prefix" IS NOT NULL;--> statement-breakpoint
-- The prefix was a `queue` tag that anyone could edit. Runs still queued take it from the
-- tag, as the workers read it until now, when they have the code bundle every run the
-- pipeline queues has (a worker could train nothing else). Ended runs are never queued
-- again and keep none; a running run never goes back to queued. The tags stay: they are
-- the users' now.
UPDATE "runs" r SET "queue_prefix" = t."value"
FROM "run_tags" t
WHERE t."run_id" = r."id" AND t."key" = 'queue' AND r."status" = 'queued' AND r."queue_prefix" IS NULL
  AND r."code_hash" ~ '^[0-9a-f]{64}$';

