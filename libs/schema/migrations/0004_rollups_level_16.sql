-- A finer rollup level (blocks of 16 steps) under the existing ones (64 … 65536), so a
-- chart of a series of 5,000–100,000 steps reads blocks instead of grouping every point:
-- 10 runs × 10,000 steps × 3 metrics at 500 points a line read 19,000 block rows
-- instead of 300,000 points. New points get level 16 on ingest; this fills it in for
-- the points already stored, exactly as the ingest's recompute does.
INSERT INTO "metric_rollups" ("run_id", "key", "level", "block", "count", "first_step", "last_step", "min", "min_step", "min_wall_ms", "max", "max_step", "max_wall_ms")
SELECT m.run_id, m.key, 16, m.step / 16, count(*), min(m.step), max(m.step),
  (min(ARRAY[m.value, m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[1],
  (min(ARRAY[m.value, m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[2],
  (min(ARRAY[m.value, m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[3],
  (max(ARRAY[m.value, -m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[1],
  -(max(ARRAY[m.value, -m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[2],
  (max(ARRAY[m.value, -m.step, m.wall_ms]) FILTER (WHERE m.value <> 'NaN'))[3]
FROM "metrics" m
GROUP BY m.run_id, m.key, m.step / 16
ON CONFLICT ("run_id", "key", "level", "block") DO NOTHING;
