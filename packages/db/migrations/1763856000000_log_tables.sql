-- Up Migration
-- The log store's tables. Both are partitioned by day on a time that a redelivered message
-- carries unchanged, so the partition key can sit in the primary key and a redelivery hits
-- ON CONFLICT DO NOTHING. The log store creates the daily partitions ahead of time and drops
-- them past retention; the DEFAULT partitions only catch rows for days it has not created
-- (far past or far future), and it moves such rows out when it creates their day.

-- Every call to a business server: delivery attempts and before-hook evaluations.
CREATE TABLE herald.attempts (
  id text NOT NULL,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  app_id text NOT NULL,
  hook text,
  endpoint_id text,
  event_id text,
  delivery_id text,
  attempt integer,
  event_type text,
  dialect text,
  trigger text,
  operation_id text NOT NULL DEFAULT '',
  url text NOT NULL DEFAULT '',
  request_body text NOT NULL DEFAULT '',
  status integer NOT NULL DEFAULT 0,
  response_body text NOT NULL DEFAULT '',
  latency_ms integer NOT NULL DEFAULT 0,
  outcome text NOT NULL,
  error text NOT NULL DEFAULT '',
  -- Dead deliveries: the event as protobuf, so the record alone is enough to replay it.
  event bytea,
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);

CREATE TABLE herald.attempts_default PARTITION OF herald.attempts DEFAULT;

-- ListAttempts by app, newest first, keyset-paged on (at, id).
CREATE INDEX attempts_app_at ON herald.attempts (app_id, at DESC, id DESC);
-- ListAttempts by endpoint, GetEndpointActivity, ListDeadDeliveries.
CREATE INDEX attempts_app_endpoint_at ON herald.attempts (app_id, endpoint_id, at DESC);
CREATE INDEX attempts_delivery ON herald.attempts (delivery_id, at DESC);
CREATE INDEX attempts_event ON herald.attempts (event_id, at DESC);

-- The event log: every event of EVENTS as protobuf, with the users it names for the user filter.
CREATE TABLE herald.events (
  id text NOT NULL,
  app_id text NOT NULL,
  type text NOT NULL,
  -- The partition key: set by the chat core (or by Herald at receipt) and stored in the event,
  -- so a redelivery has the same one; stored_at would differ on each delivery.
  occurred_at timestamptz NOT NULL,
  operation_id text NOT NULL DEFAULT '',
  -- Every user the event names: sender, receiver, mentioned users, presence user, room members.
  user_ids text[] NOT NULL DEFAULT '{}',
  room_id text,
  payload bytea NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TABLE herald.events_default PARTITION OF herald.events DEFAULT;

CREATE INDEX events_user_ids ON herald.events USING GIN (user_ids);
CREATE INDEX events_app_occurred ON herald.events (app_id, occurred_at DESC);

-- Down Migration
DROP TABLE IF EXISTS herald.events;
DROP TABLE IF EXISTS herald.attempts;
