import type pg from "pg";
import type { Logger } from "@herald/runtime";
import type { WriteBatch } from "./batcher.js";
import { isRowError, writeFailure } from "./pg-errors.js";
import type { AttemptRow, EventRow } from "./records.js";

// One statement shape whatever the batch size: columns travel as arrays and unnest() turns them
// into rows, so Postgres plans it once (named statement) instead of per distinct row count.
const INSERT_ATTEMPTS = `
INSERT INTO herald.attempts (id, at, kind, app_id, hook, endpoint_id, event_id, delivery_id, attempt,
  event_type, dialect, trigger, operation_id, url, request_body, status, response_body, latency_ms,
  outcome, error, event, ordering_key, key_wait_ms, trace_id)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::text[], $8::text[], $9::int[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
  $15::text[], $16::int[], $17::text[], $18::int[], $19::text[], $20::text[], $21::bytea[], $22::text[],
  $23::int[], $24::text[])
ON CONFLICT DO NOTHING`;

// The overview's rollups grow in the same statement, by the rows it actually inserted: a redelivered
// batch (rows already there) adds nothing. herald.roll_up_attempts is the one rule (its migration).
const INSERT_ATTEMPTS_ROLLED_UP = `
WITH inserted AS (${INSERT_ATTEMPTS}
  RETURNING kind, app_id, endpoint_id, at, outcome, latency_ms)
SELECT herald.roll_up_attempts(array_agg(app_id), array_agg(endpoint_id), array_agg(at), array_agg(outcome),
  array_agg(latency_ms))
FROM inserted WHERE kind = 'delivery'`;

const INSERT_EVENTS = `
INSERT INTO herald.events (id, app_id, type, occurred_at, operation_id, user_ids, room_id, payload,
  cause_event_id)
SELECT id, app_id, type, occurred_at, operation_id,
  -- unnest() flattens a text[][]; the users travel as one JSON array per row instead.
  ARRAY(SELECT jsonb_array_elements_text(users)), room_id, payload, cause_event_id
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[], $7::text[],
  $8::bytea[], $9::text[]) AS r(id, app_id, type, occurred_at, operation_id, users, room_id, payload,
  cause_event_id)
ON CONFLICT DO NOTHING`;

export function attemptParams(rows: AttemptRow[]): unknown[] {
  const col = <K extends keyof AttemptRow>(k: K): AttemptRow[K][] => rows.map((r) => r[k]);
  return [
    col("id"),
    col("at"),
    col("kind"),
    col("appId"),
    col("hook"),
    col("endpointId"),
    col("eventId"),
    col("deliveryId"),
    col("attempt"),
    col("eventType"),
    col("dialect"),
    col("trigger"),
    col("operationId"),
    col("url"),
    col("requestBody"),
    col("status"),
    col("responseBody"),
    col("latencyMs"),
    col("outcome"),
    col("error"),
    col("event"),
    col("orderingKey"),
    col("keyWaitMs"),
    col("traceId"),
  ];
}

function eventParams(rows: EventRow[]): unknown[] {
  return [
    rows.map((r) => r.id),
    rows.map((r) => r.appId),
    rows.map((r) => r.type),
    rows.map((r) => r.occurredAt),
    rows.map((r) => r.operationId),
    rows.map((r) => JSON.stringify(r.userIds)),
    rows.map((r) => r.roomId),
    rows.map((r) => r.payload),
    rows.map((r) => r.causeEventId),
  ];
}

/** Writes attempt rows and their rollups in one statement (one transaction), idempotently. */
export function attemptWriter(pool: pg.Pool, log: Logger): WriteBatch<AttemptRow> {
  return batchWriter(
    pool,
    log,
    "attempts",
    "herald-insert-attempts-rolled-up",
    INSERT_ATTEMPTS_ROLLED_UP,
    attemptParams,
  );
}

/** Writes event rows in one statement (one transaction), idempotently. */
export function eventWriter(pool: pg.Pool, log: Logger): WriteBatch<EventRow> {
  return batchWriter(pool, log, "events", "herald-insert-events", INSERT_EVENTS, eventParams);
}

/**
 * A batch either commits whole or fails whole. When Postgres refuses a row's data, the rows are
 * written one by one so that only the bad one fails (and is termed); when Postgres is
 * unreachable, the whole batch fails and every message comes back later.
 */
function batchWriter<T>(
  pool: pg.Pool,
  log: Logger,
  what: string,
  name: string,
  text: string,
  params: (rows: T[]) => unknown[],
): WriteBatch<T> {
  return async (rows) => {
    try {
      await pool.query({ name, text, values: params(rows) });
      return rows.map(() => undefined);
    } catch (err) {
      if (!isRowError(err) || rows.length === 1) throw writeFailure(err, what);
      log.warn({ err, rows: rows.length }, `${what}: batch refused; writing its rows one by one`);
      const outcomes: Array<Error | undefined> = [];
      for (const row of rows) {
        try {
          await pool.query({ name, text, values: params([row]) });
          outcomes.push(undefined);
        } catch (rowErr) {
          outcomes.push(writeFailure(rowErr, what));
        }
      }
      return outcomes;
    }
  };
}
