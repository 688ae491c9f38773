CREATE TABLE "champion_decisions" (
	"run_id" uuid NOT NULL,
	"tier" text NOT NULL,
	"decision" text NOT NULL,
	"model" text NOT NULL,
	"alias" text NOT NULL,
	"metric" text NOT NULL,
	"challenger" double precision,
	"champion" double precision,
	"version" integer,
	"detail" text NOT NULL,
	"decided_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "champion_decisions_run_id_tier_pk" PRIMARY KEY("run_id","tier"),
	CONSTRAINT "champion_decisions_decision_check" CHECK ("champion_decisions"."decision" in ('first','promoted','kept','error'))
);
--> statement-breakpoint
CREATE TABLE "gate_results" (
	"run_id" uuid NOT NULL,
	"tier" text NOT NULL,
	"passed" boolean NOT NULL,
	"expression" text NOT NULL,
	"values" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"missing" text[] DEFAULT '{}'::text[] NOT NULL,
	"evaluated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gate_results_run_id_tier_pk" PRIMARY KEY("run_id","tier")
);
--> statement-breakpoint
CREATE TABLE "sweep_trials" (
	"run_id" uuid PRIMARY KEY NOT NULL,
	"sweep_id" uuid NOT NULL,
	"trial_index" integer NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sweeps" (
	"parent_run_id" uuid PRIMARY KEY NOT NULL,
	"strategy" text NOT NULL,
	"spec" jsonb NOT NULL,
	"objective_metric" text NOT NULL,
	"objective_direction" text NOT NULL,
	"prefix" text NOT NULL,
	"max_trials" integer NOT NULL,
	"parallel" integer NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"best_run_id" uuid,
	"best_trial" integer,
	"best_value" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	CONSTRAINT "sweeps_status_check" CHECK ("sweeps"."status" in ('running','finished','failed','cancelled')),
	CONSTRAINT "sweeps_direction_check" CHECK ("sweeps"."objective_direction" in ('minimize','maximize'))
);
--> statement-breakpoint
ALTER TABLE "champion_decisions" ADD CONSTRAINT "champion_decisions_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gate_results" ADD CONSTRAINT "gate_results_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweep_trials" ADD CONSTRAINT "sweep_trials_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweep_trials" ADD CONSTRAINT "sweep_trials_sweep_id_sweeps_parent_run_id_fk" FOREIGN KEY ("sweep_id") REFERENCES "public"."sweeps"("parent_run_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweeps" ADD CONSTRAINT "sweeps_parent_run_id_runs_id_fk" FOREIGN KEY ("parent_run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweeps" ADD CONSTRAINT "sweeps_best_run_id_runs_id_fk" FOREIGN KEY ("best_run_id") REFERENCES "public"."runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "gate_results_tier_passed" ON "gate_results" USING btree ("tier","passed","run_id");--> statement-breakpoint
CREATE INDEX "gate_results_evaluated" ON "gate_results" USING btree ("evaluated_at");--> statement-breakpoint
CREATE UNIQUE INDEX "sweep_trials_sweep_index" ON "sweep_trials" USING btree ("sweep_id","trial_index");--> statement-breakpoint
CREATE INDEX "sweeps_status_prefix" ON "sweeps" USING btree ("status","prefix");--> statement-breakpoint
-- Sweeps started before this migration kept their state in tags (sweep.kind, sweep.spec,
-- trial, sweep.params, sweep.best*): copied here so a sweep in flight carries on. A row
-- whose tags do not read (a spec or params that are not JSON, a missing field, a trial
-- index that is no number) is left out rather than failing the upgrade, and a trial is
-- taken only from a child run of its sweep (runs.parent_run_id, set when a run is created
-- and never changed after).
-- Gate verdicts and champion decisions are NOT copied: their tags (and the gate's note)
-- were writable by any editor, so copying them would turn a forged `gate = passed` into
-- a verdict the schedules trust. Runs ended before the upgrade keep those tags and notes
-- as they are; the next gated run of each tier records a verdict here.
DO $$
DECLARE
  r record;
  s jsonb;
BEGIN
  FOR r IN
    SELECT k.run_id, sp.value AS spec, ru.status, ru.created_at, ru.ended_at
    FROM run_tags k
    JOIN run_tags sp ON sp.run_id = k.run_id AND sp.key = 'sweep.spec'
    JOIN runs ru ON ru.id = k.run_id
    WHERE k.key = 'sweep.kind' AND k.value = 'parent'
  LOOP
    BEGIN
      s := r.spec::jsonb;
      INSERT INTO sweeps (parent_run_id, strategy, spec, objective_metric, objective_direction, prefix, max_trials, parallel, status, created_at, ended_at)
      VALUES (
        r.run_id, s->'strategy'->>'kind', s, s->'objective'->>'metric', s->'objective'->>'direction', s->>'prefix',
        (s->>'maxTrials')::integer, (s->>'parallel')::integer,
        CASE r.status WHEN 'queued' THEN 'running' WHEN 'running' THEN 'running' WHEN 'finished' THEN 'finished' WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,
        r.created_at, r.ended_at
      )
      ON CONFLICT DO NOTHING;
    EXCEPTION WHEN others THEN
      NULL;
    END;
  END LOOP;

  FOR r IN
    SELECT t.id AS run_id, t.parent_run_id AS sweep_id, ix.value AS trial_index, pa.value AS params
    FROM run_tags k
    JOIN runs t ON t.id = k.run_id
    JOIN sweeps sw ON sw.parent_run_id = t.parent_run_id
    JOIN run_tags sg ON sg.run_id = t.id AND sg.key = 'sweep' AND sg.value = t.parent_run_id::text
    JOIN run_tags ix ON ix.run_id = t.id AND ix.key = 'trial'
    LEFT JOIN run_tags pa ON pa.run_id = t.id AND pa.key = 'sweep.params'
    WHERE k.key = 'sweep.kind' AND k.value = 'trial'
    ORDER BY t.created_at, t.id
  LOOP
    BEGIN
      INSERT INTO sweep_trials (run_id, sweep_id, trial_index, params)
      VALUES (r.run_id, r.sweep_id, r.trial_index::integer, COALESCE(r.params, '{}')::jsonb)
      ON CONFLICT DO NOTHING;
    EXCEPTION WHEN others THEN
      NULL;
    END;
  END LOOP;

  FOR r IN
    SELECT sw.parent_run_id, b.value AS best, bt.value AS best_trial, bv.value AS best_value
    FROM sweeps sw
    JOIN run_tags b ON b.run_id = sw.parent_run_id AND b.key = 'sweep.best'
    JOIN run_tags bt ON bt.run_id = sw.parent_run_id AND bt.key = 'sweep.best.trial'
    JOIN run_tags bv ON bv.run_id = sw.parent_run_id AND bv.key = 'sweep.best.value'
  LOOP
    BEGIN
      UPDATE sweeps SET best_run_id = tr.run_id, best_trial = tr.trial_index, best_value = r.best_value::double precision
      FROM sweep_trials tr
      WHERE sweeps.parent_run_id = r.parent_run_id AND tr.sweep_id = r.parent_run_id
        AND tr.run_id::text = lower(r.best) AND tr.trial_index = r.best_trial::integer;
    EXCEPTION WHEN others THEN
      NULL;
    END;
  END LOOP;
END $$;
