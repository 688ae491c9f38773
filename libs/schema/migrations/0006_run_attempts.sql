CREATE TABLE "run_attempts" (
	"run_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"worker_id" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"resumed_from_step" bigint,
	"outcome" text,
	"detail" text,
	CONSTRAINT "run_attempts_run_id_attempt_pk" PRIMARY KEY("run_id","attempt"),
	CONSTRAINT "run_attempts_outcome_check" CHECK ("run_attempts"."outcome" in ('finished','failed','abandoned','cancelled','retried','handed_back','superseded','lost_lock'))
);
--> statement-breakpoint
ALTER TABLE "run_attempts" ADD CONSTRAINT "run_attempts_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Attempts were tags (`attempts`, `attempt.N`: "<ISO time> on <worker>[, resumed from checkpoint
-- at step N][ → failed, retried: <reason>]") that anyone could edit. Those in the pipeline's
-- format become rows; the rest of a run's history follows from its status.
INSERT INTO "run_attempts" ("run_id", "attempt", "worker_id", "started_at", "resumed_from_step", "outcome", "detail")
SELECT t."run_id",
  substring(t."key" from 9)::integer,
  nullif(substring(t."value" from '^\S+ on ([^ ,]+)'), 'a'),
  substring(t."value" from '^(\S+)')::timestamptz,
  substring(t."value" from ', resumed from checkpoint at step ([0-9]{1,15})')::bigint,
  CASE WHEN t."value" LIKE '% → failed, retried: %' THEN 'retried' END,
  substring(t."value" from ' → failed, retried: (.*)$')
FROM "run_tags" t
WHERE t."key" ~ '^attempt\.[0-9]{1,9}$' AND t."value" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z on '
ON CONFLICT DO NOTHING;
--> statement-breakpoint
UPDATE "run_attempts" a SET "ended_at" = n."started_at", "outcome" = coalesce(a."outcome", 'superseded')
FROM "run_attempts" n
WHERE n."run_id" = a."run_id" AND n."attempt" = a."attempt" + 1 AND a."ended_at" IS NULL;
--> statement-breakpoint
UPDATE "runs" r SET "attempts" = m."n"
FROM (SELECT "run_id", max("attempt") AS "n" FROM "run_attempts" GROUP BY "run_id") m
WHERE m."run_id" = r."id" AND r."attempts" < m."n";
--> statement-breakpoint
UPDATE "run_attempts" a SET "outcome" = r."status", "ended_at" = coalesce(r."ended_at", now())
FROM "runs" r
WHERE r."id" = a."run_id" AND a."outcome" IS NULL AND a."attempt" = r."attempts" AND r."status" IN ('finished', 'failed', 'abandoned', 'cancelled');
--> statement-breakpoint
DELETE FROM "run_tags" t
WHERE EXISTS (SELECT 1 FROM "run_attempts" a WHERE a."run_id" = t."run_id")
  AND ((t."key" = 'attempts' AND t."value" ~ '^[0-9]{1,9}$')
    OR (t."key" ~ '^attempt\.[0-9]{1,9}$' AND t."value" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z on '));
