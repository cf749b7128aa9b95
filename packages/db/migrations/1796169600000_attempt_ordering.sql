-- Up Migration
-- Endpoints with ordering "key" send a key's callbacks one after another; each attempt records the
-- key it kept the order of and how long it waited for the callback before it. Constant defaults,
-- so adding them rewrites no partition, and rows written before read as unordered, no wait.
ALTER TABLE herald.attempts
  ADD COLUMN ordering_key text NOT NULL DEFAULT '',
  ADD COLUMN key_wait_ms integer NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE herald.attempts
  DROP COLUMN IF EXISTS key_wait_ms,
  DROP COLUMN IF EXISTS ordering_key;
