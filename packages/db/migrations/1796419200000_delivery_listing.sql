-- Up Migration
-- The deliveries listing's room filter finds an app's events in a room; without this index that is a
-- scan of every event of the app. Partial: most events (messages, presence) name no room. The other
-- filters ride on existing indexes: attempts (app_id, at, id) for the newest-first walk,
-- (delivery_id, at) for "latest attempt of its delivery", events' GIN on user_ids for the user filter.
CREATE INDEX events_app_room ON herald.events (app_id, room_id) WHERE room_id IS NOT NULL;

-- Down Migration
DROP INDEX IF EXISTS herald.events_app_room;
