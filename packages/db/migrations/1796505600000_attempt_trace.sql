-- Up Migration
-- The W3C trace id each attempt's request carried (its traceparent), so an attempt in the log leads
-- to its trace. A constant default, so adding it rewrites no partition; rows written before, and
-- attempts sent with no trace, read as ''.
ALTER TABLE herald.attempts
  ADD COLUMN trace_id text NOT NULL DEFAULT '';

-- Down Migration
ALTER TABLE herald.attempts
  DROP COLUMN IF EXISTS trace_id;
