-- Up Migration
-- An event Herald derived (presence's user.*, the chatroom's room.*) names the event that caused it
-- inside its payload (cause_event_id). The log store copies it here at ingest, so an event's story
-- (the events derived from it, and from those) is an indexed lookup. Rows stored before have none.
ALTER TABLE herald.events ADD COLUMN cause_event_id text;

CREATE INDEX events_cause ON herald.events (app_id, cause_event_id) WHERE cause_event_id IS NOT NULL;

-- Down Migration
DROP INDEX IF EXISTS herald.events_cause;
ALTER TABLE herald.events DROP COLUMN IF EXISTS cause_event_id;
