-- Up Migration
-- The overview (per app and endpoint: deliveries, success rate, p50/p99 latency, dead) reads these
-- rollups instead of scanning herald.attempts. The log store adds to them in the same statement as
-- it inserts attempts, counting only the rows that statement actually inserted, so a redelivered
-- batch (ON CONFLICT DO NOTHING) adds nothing. Delivery attempts only: before-hook evaluations have
-- other outcomes and no dead count.
--
-- One row per app, endpoint, bucket width, bucket start, outcome and latency bucket. Each attempt is
-- counted at three widths (1 min, 15 min, 1 h), so an hour, a day and a week each read at most a few
-- hundred buckets. Latency buckets are log-scale: bucket 0 holds 0..1 ms, bucket i (1..70) holds
-- (2^((i-1)/4), 2^(i/4)] ms, bucket 71 everything above 2^(70/4) ms (about 185 s). A percentile read
-- from them is the upper bound of the bucket holding it: never below the true value, at most 19%
-- (2^(1/4)) above it.
CREATE TABLE herald.attempt_rollups (
  app_id text NOT NULL,
  endpoint_id text NOT NULL,
  width_s integer NOT NULL,
  bucket_start timestamptz NOT NULL,
  outcome text NOT NULL,
  latency_bucket smallint NOT NULL,
  attempts bigint NOT NULL,
  PRIMARY KEY (app_id, endpoint_id, width_s, bucket_start, outcome, latency_bucket)
);

-- The overview of a whole app (every endpoint); the primary key serves the one of an endpoint.
CREATE INDEX attempt_rollups_app_bucket ON herald.attempt_rollups (app_id, width_s, bucket_start);

CREATE FUNCTION herald.latency_bucket(ms integer) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- The epsilon keeps exact powers (2, 4, 8 ms) in the bucket they bound, despite float rounding.
RETURN CASE WHEN ms <= 1 THEN 0 ELSE least(71, ceil(4 * ln(ms::float8) / ln(2) - 1e-9))::smallint END;

-- The one rule for what an attempt adds to the rollups: the log store calls it with the rows its
-- insert returned; the backfill below and the bench with rows of herald.attempts. Rows without an
-- endpoint (none today for deliveries) are left out.
CREATE FUNCTION herald.roll_up_attempts(
  app_ids text[],
  endpoint_ids text[],
  ats timestamptz[],
  outcomes text[],
  latencies integer[]
) RETURNS void
LANGUAGE sql
BEGIN ATOMIC
  INSERT INTO herald.attempt_rollups AS r
    (app_id, endpoint_id, width_s, bucket_start, outcome, latency_bucket, attempts)
  SELECT a.app_id, a.endpoint_id, w.s, date_bin(make_interval(secs => w.s), a.at, timestamptz 'epoch'),
    a.outcome, herald.latency_bucket(a.latency_ms), count(*)
  FROM unnest(app_ids, endpoint_ids, ats, outcomes, latencies) AS a(app_id, endpoint_id, at, outcome, latency_ms)
  CROSS JOIN (VALUES (60), (900), (3600)) AS w(s)
  WHERE a.endpoint_id IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6
  -- Two batches upserting at once take their row locks in the same order.
  ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (app_id, endpoint_id, width_s, bucket_start, outcome, latency_bucket)
  DO UPDATE SET attempts = r.attempts + excluded.attempts;
END;

-- What was logged before this migration, a day at a time.
SELECT herald.roll_up_attempts(array_agg(app_id), array_agg(endpoint_id), array_agg(at), array_agg(outcome),
  array_agg(latency_ms))
FROM herald.attempts
WHERE kind = 'delivery'
GROUP BY date_bin('1 day', at, timestamptz 'epoch');

-- Down Migration
DROP FUNCTION IF EXISTS herald.roll_up_attempts(text[], text[], timestamptz[], text[], integer[]);
DROP FUNCTION IF EXISTS herald.latency_bucket(integer);
DROP TABLE IF EXISTS herald.attempt_rollups;
