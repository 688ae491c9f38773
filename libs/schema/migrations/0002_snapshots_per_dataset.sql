-- The same bytes snapshotted into two datasets have one content id: key rows by (dataset, id).
ALTER TABLE "snapshots" DROP CONSTRAINT "snapshots_pkey";--> statement-breakpoint
ALTER TABLE "snapshots" ADD CONSTRAINT "snapshots_dataset_id_id_pk" PRIMARY KEY("dataset_id","id");--> statement-breakpoint
CREATE INDEX "snapshots_id" ON "snapshots" USING btree ("id");
