import type pg from "pg";
import { Event, type Attempt, type DeadDelivery, type DerivedEvent } from "@herald/proto";
import { RetryableError, ValidationError } from "@herald/runtime";
import { isUnavailable } from "./pg-errors.js";

/** The columns of an Attempt, plus the keyset position of the row. */
const ATTEMPT_COLUMNS = `a.id, a.at, a.kind, a.app_id, a.hook, a.endpoint_id, a.event_id, a.delivery_id,
  a.attempt, a.event_type, a.dialect, a.trigger, a.operation_id, a.url, a.request_body, a.status,
  a.response_body, a.latency_ms, a.outcome, a.error, a.ordering_key, a.key_wait_ms,
  a.trace_id,
  ((extract(epoch FROM a.at) * 1000000)::bigint)::text AS at_us`;

interface AttemptDbRow {
  id: string;
  at: Date;
  kind: string;
  app_id: string;
  hook: string | null;
  endpoint_id: string | null;
  event_id: string | null;
  delivery_id: string | null;
  attempt: number | null;
  event_type: string | null;
  dialect: string | null;
  trigger: string | null;
  operation_id: string;
  url: string;
  request_body: string;
  status: number;
  response_body: string;
  latency_ms: number;
  outcome: string;
  error: string;
  ordering_key: string;
  key_wait_ms: number;
  trace_id: string;
  at_us: string;
}

export function toAttempt(r: AttemptDbRow): Attempt {
  return {
    id: r.id,
    appId: r.app_id,
    endpointId: r.endpoint_id ?? "",
    eventId: r.event_id ?? "",
    url: r.url,
    statusCode: r.status,
    outcome: r.outcome,
    error: r.error,
    latencyMs: Math.max(0, r.latency_ms),
    attempt: Math.max(0, r.attempt ?? 0),
    at: r.at,
    requestBody: r.request_body,
    responseBody: r.response_body,
    kind: r.kind,
    deliveryId: r.delivery_id ?? "",
    hook: r.hook ?? "",
    operationId: r.operation_id,
    dialect: r.dialect ?? "",
    eventType: r.event_type ?? "",
    trigger: r.trigger ?? "",
    orderingKey: r.ordering_key,
    keyWaitMs: Math.max(0, r.key_wait_ms),
    traceId: r.trace_id,
  };
}

export interface AttemptFilter {
  appId: string;
  endpointId?: string;
  eventId?: string;
  deliveryId?: string;
  userId?: string;
  outcome?: string;
  kind?: string;
  from?: Date;
  to?: Date;
  pageSize: number;
  pageToken?: string;
}

/** The position after the last attempt of a page: (at in microseconds, id), opaque to callers. */
interface PageKey {
  atUs: string;
  id: string;
}

export function encodePageToken(key: PageKey): string {
  return Buffer.from(JSON.stringify([key.atUs, key.id])).toString("base64url");
}

export function decodePageToken(token: string): PageKey {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === "string" &&
      /^-?[0-9]{1,19}$/.test(parsed[0]) &&
      typeof parsed[1] === "string"
    ) {
      return { atUs: parsed[0], id: parsed[1] };
    }
  } catch {
    // answered below
  }
  throw new ValidationError("page_token: not a token this service issued", { field: "page_token" });
}

/** Runs a query; a Postgres that cannot be reached becomes a RetryableError (gRPC UNAVAILABLE). */
export async function query<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[],
): Promise<R[]> {
  try {
    return (await pool.query<R>(text, values)).rows;
  } catch (err) {
    if (isUnavailable(err))
      throw new RetryableError("the log store's database is unavailable", { cause: err });
    throw err;
  }
}

/** Attempts newest first, keyset-paged on (at, id). */
export async function listAttempts(
  pool: pg.Pool,
  f: AttemptFilter,
): Promise<{ attempts: Attempt[]; nextPageToken: string }> {
  const values: unknown[] = [f.appId];
  const where = ["a.app_id = $1"];
  const param = (v: unknown): string => `$${values.push(v)}`;
  if (f.endpointId) where.push(`a.endpoint_id = ${param(f.endpointId)}`);
  if (f.eventId) where.push(`a.event_id = ${param(f.eventId)}`);
  if (f.deliveryId) where.push(`a.delivery_id = ${param(f.deliveryId)}`);
  if (f.outcome) where.push(`a.outcome = ${param(f.outcome)}`);
  if (f.kind) where.push(`a.kind = ${param(f.kind)}`);
  if (f.from) where.push(`a.at >= ${param(f.from)}`);
  if (f.to) where.push(`a.at < ${param(f.to)}`);
  if (f.userId) {
    where.push(
      `a.event_id IN (SELECT e.id FROM herald.events e WHERE e.app_id = $1 AND e.user_ids @> ARRAY[${param(f.userId)}]::text[])`,
    );
  }
  if (f.pageToken) {
    const key = decodePageToken(f.pageToken);
    where.push(
      `(a.at, a.id) < (timestamptz 'epoch' + ${param(key.atUs)}::bigint * interval '1 microsecond', ${param(key.id)})`,
    );
  }
  const rows = await query<AttemptDbRow>(
    pool,
    `SELECT ${ATTEMPT_COLUMNS} FROM herald.attempts a WHERE ${where.join(" AND ")}
     ORDER BY a.at DESC, a.id DESC LIMIT ${param(f.pageSize + 1)}`,
    values,
  );
  const page = rows.slice(0, f.pageSize);
  const last = page[page.length - 1];
  return {
    attempts: page.map(toAttempt),
    nextPageToken: rows.length > f.pageSize && last ? encodePageToken({ atUs: last.at_us, id: last.id }) : "",
  };
}

/** An event's attempts (newest first) and the event as stored, if the log store has it. */
/** How far the story follows derived events of derived events (conn.offline -> user.offline -> room.status). */
const STORY_DEPTH = 8;
/** At most this many derived events, and this many attempts per event, in one answer. */
const STORY_LIMIT = 1000;

/**
 * An event as stored with its attempts, and its story: the events derived from it (found by their
 * cause_event_id) and from those in turn, oldest first, each with its attempts.
 */
export async function eventDeliveries(
  pool: pg.Pool,
  appId: string,
  eventId: string,
): Promise<{ attempts: Attempt[]; event: Event | undefined; derived: DerivedEvent[] }> {
  const [attempts, stored, derivedRows] = await Promise.all([
    attemptsOf(pool, appId, [eventId]),
    // The event log first; a dead record's own copy when the event log does not have it (any more).
    query<{ payload: Buffer }>(
      pool,
      `SELECT payload FROM (
         (SELECT 0 AS rank, payload FROM herald.events WHERE app_id = $1 AND id = $2
          ORDER BY stored_at DESC LIMIT 1)
         UNION ALL
         (SELECT 1, event FROM herald.attempts WHERE app_id = $1 AND event_id = $2 AND event IS NOT NULL
          ORDER BY at DESC LIMIT 1)
       ) s ORDER BY rank LIMIT 1`,
      [appId, eventId],
    ),
    query<{ id: string; payload: Buffer }>(
      pool,
      `WITH RECURSIVE story (id, occurred_at, payload, depth) AS (
         SELECT e.id, e.occurred_at, e.payload, 1 FROM herald.events e
         WHERE e.app_id = $1 AND e.cause_event_id = $2
         UNION ALL
         SELECT e.id, e.occurred_at, e.payload, s.depth + 1 FROM story s
         JOIN herald.events e ON e.app_id = $1 AND e.cause_event_id = s.id
         WHERE s.depth < $3
       )
       SELECT DISTINCT ON (occurred_at, id) id, payload FROM story ORDER BY occurred_at, id LIMIT $4`,
      [appId, eventId, STORY_DEPTH, STORY_LIMIT],
    ),
  ]);
  const derivedAttempts = await attemptsOf(
    pool,
    appId,
    derivedRows.map((r) => r.id),
  );
  const payload = stored[0]?.payload;
  return {
    attempts: attempts.get(eventId) ?? [],
    event: payload ? Event.decode(payload) : undefined,
    derived: derivedRows.map((r) => ({
      event: Event.decode(r.payload),
      attempts: derivedAttempts.get(r.id) ?? [],
    })),
  };
}

/** The attempts of each event, newest first, at most STORY_LIMIT per event. */
async function attemptsOf(pool: pg.Pool, appId: string, eventIds: string[]): Promise<Map<string, Attempt[]>> {
  const byEvent = new Map<string, Attempt[]>();
  if (eventIds.length === 0) return byEvent;
  const rows = await query<AttemptDbRow>(
    pool,
    `SELECT ${ATTEMPT_COLUMNS} FROM unnest($2::text[]) AS wanted(event_id)
     CROSS JOIN LATERAL (
       SELECT * FROM herald.attempts a WHERE a.app_id = $1 AND a.event_id = wanted.event_id
       ORDER BY a.at DESC, a.id DESC LIMIT $3
     ) a
     ORDER BY a.at DESC, a.id DESC`,
    [appId, eventIds, STORY_LIMIT],
  );
  for (const row of rows) {
    const attempt = toAttempt(row);
    const list = byEvent.get(attempt.eventId);
    if (list === undefined) byEvent.set(attempt.eventId, [attempt]);
    else list.push(attempt);
  }
  return byEvent;
}

/** An endpoint's last attempts, and its last attempts that did not succeed. */
export async function endpointActivity(
  pool: pg.Pool,
  appId: string,
  endpointId: string,
  limit: number,
): Promise<{ lastAttempts: Attempt[]; lastErrors: Attempt[] }> {
  const base = `SELECT ${ATTEMPT_COLUMNS} FROM herald.attempts a WHERE a.app_id = $1 AND a.endpoint_id = $2`;
  const [lastAttempts, lastErrors] = await Promise.all([
    query<AttemptDbRow>(pool, `${base} ORDER BY a.at DESC, a.id DESC LIMIT $3`, [appId, endpointId, limit]),
    query<AttemptDbRow>(
      pool,
      // A delivery failed unless delivered; a before-hook failed when it carries an error.
      `${base} AND ((a.kind = 'delivery' AND a.outcome <> 'delivered') OR (a.kind <> 'delivery' AND a.error <> ''))
       ORDER BY a.at DESC, a.id DESC LIMIT $3`,
      [appId, endpointId, limit],
    ),
  ]);
  return { lastAttempts: lastAttempts.map(toAttempt), lastErrors: lastErrors.map(toAttempt) };
}

/**
 * Deliveries of an endpoint whose latest attempt since `since` is dead and that were not
 * delivered after it, oldest first, with the event bytes to send again (the dead record's own
 * copy, else the event log's). A delivery whose event is nowhere on record cannot be replayed
 * and is left out.
 */
export async function deadDeliveries(
  pool: pg.Pool,
  appId: string,
  endpointId: string,
  since: Date,
  limit: number,
): Promise<DeadDelivery[]> {
  const rows = await query<AttemptDbRow & { event_bytes: Buffer | null }>(
    pool,
    `SELECT * FROM (
       SELECT l.*, COALESCE(l.event, (SELECT e.payload FROM herald.events e
         WHERE e.app_id = l.app_id AND e.id = l.event_id ORDER BY e.stored_at DESC LIMIT 1)) AS event_bytes
       FROM (
         SELECT DISTINCT ON (a.delivery_id) ${ATTEMPT_COLUMNS}, a.event
         FROM herald.attempts a
         WHERE a.app_id = $1 AND a.endpoint_id = $2 AND a.kind = 'delivery' AND a.delivery_id IS NOT NULL
           AND a.at >= $3
         ORDER BY a.delivery_id, a.at DESC, a.id DESC
       ) l
       WHERE l.outcome = 'dead'
         AND NOT EXISTS (SELECT 1 FROM herald.attempts d WHERE d.delivery_id = l.delivery_id
           AND d.app_id = l.app_id AND d.outcome = 'delivered' AND d.at > l.at)
     ) r
     WHERE r.event_bytes IS NOT NULL
     ORDER BY r.at, r.id
     LIMIT $4`,
    [appId, endpointId, since, limit],
  );
  return rows.map((r) => {
    const deliveryId = r.delivery_id ?? "";
    return {
      deliveryId,
      eventId: r.event_id ?? deliveryId.slice(0, Math.max(0, deliveryId.lastIndexOf(":"))),
      eventType: r.event_type ?? "",
      event: r.event_bytes ?? Buffer.alloc(0),
      lastAttempt: toAttempt(r),
    };
  });
}
