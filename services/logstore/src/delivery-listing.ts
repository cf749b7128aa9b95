import type pg from "pg";
import type { Delivery } from "@herald/proto";
import { RetryableError, ValidationError } from "@herald/runtime";
import { isUnavailable, sqlState } from "./pg-errors.js";
import { decodePageToken, encodePageToken } from "./queries.js";

export interface DeliveryFilter {
  appId: string;
  from?: Date;
  to?: Date;
  eventType?: string;
  eventId?: string;
  outcome?: string;
  endpointId?: string;
  userId?: string;
  roomId?: string;
  search?: string;
  pageSize: number;
  pageToken?: string;
  replayableOnly?: boolean;
}

/** A search with no `from` scans this far back from `to` (or now). */
export const SEARCH_DEFAULT_RANGE_MS = 24 * 60 * 60 * 1000;
/** A body search that runs longer than this is cancelled with a clear error, not left to hog Postgres. */
export const SEARCH_TIMEOUT_MS = 15_000;

/** `text` for ILIKE … ESCAPE '\': matched literally anywhere in the body, `%` and `_` included. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, "\\$&")}%`;
}

interface DeliveryDbRow {
  delivery_id: string;
  event_id: string | null;
  endpoint_id: string | null;
  event_type: string | null;
  outcome: string;
  status: number;
  latency_ms: number;
  error: string;
  url: string;
  dialect: string | null;
  trigger: string | null;
  id: string;
  at: Date;
  at_us: string;
  attempt_count: number;
  first_at: Date;
  replayable: boolean;
  event_bytes: Buffer | null;
}

/**
 * Deliveries newest first: each delivery id once, as its latest attempt before `to`, with the count
 * and first time of its attempts up to that one. The scan walks attempts newest first on
 * (app_id, at, id) and keeps an attempt only when no later one of its delivery exists (an index
 * probe on (delivery_id, at)), so a page costs the attempts scanned to fill it, not the whole range.
 * Keyset-paged on the latest attempt's (at, id): a delivery that gets a new attempt moves to the top;
 * the others keep their place, so paging never repeats or skips an unchanged delivery.
 */
export async function listDeliveries(
  pool: pg.Pool,
  f: DeliveryFilter,
): Promise<{ deliveries: Delivery[]; nextPageToken: string }> {
  const values: unknown[] = [f.appId];
  const param = (v: unknown): string => `$${values.push(v)}`;
  const search = f.search ?? "";
  const from =
    f.from ??
    (search !== "" ? new Date((f.to ?? new Date()).getTime() - SEARCH_DEFAULT_RANGE_MS) : undefined);
  const where = ["a.app_id = $1", "a.kind = 'delivery'", "a.delivery_id IS NOT NULL"];
  const fromParam = from === undefined ? undefined : param(from);
  const toParam = f.to === undefined ? undefined : param(f.to);
  if (fromParam) where.push(`a.at >= ${fromParam}`);
  if (toParam) where.push(`a.at < ${toParam}`);
  if (f.endpointId) where.push(`a.endpoint_id = ${param(f.endpointId)}`);
  if (f.eventType) where.push(`a.event_type = ${param(f.eventType)}`);
  if (f.eventId) where.push(`a.event_id = ${param(f.eventId)}`);
  if (f.outcome) where.push(`a.outcome = ${param(f.outcome)}`);
  // The latest attempt of its delivery (as of `to`): none later.
  where.push(
    `NOT EXISTS (SELECT 1 FROM herald.attempts n WHERE n.delivery_id = a.delivery_id AND n.app_id = a.app_id
       AND (n.at, n.id) > (a.at, a.id)${toParam ? ` AND n.at < ${toParam}` : ""})`,
  );
  if (f.userId) {
    where.push(
      `a.event_id IN (SELECT e.id FROM herald.events e WHERE e.app_id = $1 AND e.user_ids @> ARRAY[${param(f.userId)}]::text[])`,
    );
  }
  if (f.roomId) {
    where.push(
      `a.event_id IN (SELECT e.id FROM herald.events e WHERE e.app_id = $1 AND e.room_id = ${param(f.roomId)})`,
    );
  }
  if (search !== "") {
    const pattern = param(containsPattern(search));
    where.push(
      `EXISTS (SELECT 1 FROM herald.attempts s WHERE s.delivery_id = a.delivery_id AND s.app_id = a.app_id
         AND s.at >= ${fromParam} AND s.at <= a.at
         AND (s.request_body ILIKE ${pattern} ESCAPE '\\' OR s.response_body ILIKE ${pattern} ESCAPE '\\'))`,
    );
  }
  if (f.replayableOnly) where.push(`${eventBytesOf("a")} IS NOT NULL`);
  if (f.pageToken) {
    const key = decodePageToken(f.pageToken);
    where.push(
      `(a.at, a.id) < (timestamptz 'epoch' + ${param(key.atUs)}::bigint * interval '1 microsecond', ${param(key.id)})`,
    );
  }
  const limit = param(f.pageSize + 1);
  const text = `
    WITH page AS (
      SELECT a.id, a.at, a.app_id, a.delivery_id, a.event_id, a.endpoint_id, a.event_type, a.outcome,
        a.status, a.latency_ms, a.error, a.url, a.dialect, a.trigger,
        ((extract(epoch FROM a.at) * 1000000)::bigint)::text AS at_us,
        ${f.replayableOnly ? eventBytesOf("a") : "NULL::bytea"} AS event_bytes
      FROM herald.attempts a
      WHERE ${where.join("\n        AND ")}
      ORDER BY a.at DESC, a.id DESC
      LIMIT ${limit}
    )
    SELECT p.*, agg.attempt_count, agg.first_at,
      ${f.replayableOnly ? "true" : `${eventBytesOf("p")} IS NOT NULL`} AS replayable
    FROM page p
    CROSS JOIN LATERAL (
      SELECT count(*)::int AS attempt_count, min(c.at) AS first_at FROM herald.attempts c
      WHERE c.delivery_id = p.delivery_id AND c.app_id = p.app_id AND (c.at, c.id) <= (p.at, p.id)
    ) agg
    ORDER BY p.at DESC, p.id DESC`;
  const rows = await run(pool, text, values, search !== "");
  const page = rows.slice(0, f.pageSize);
  const last = page[page.length - 1];
  return {
    deliveries: page.map(toDelivery),
    nextPageToken: rows.length > f.pageSize && last ? encodePageToken({ atUs: last.at_us, id: last.id }) : "",
  };
}

/** The event to send a delivery again: a dead attempt's own copy, else the event log's. */
function eventBytesOf(row: string): string {
  return `COALESCE(
      (SELECT d.event FROM herald.attempts d WHERE d.delivery_id = ${row}.delivery_id AND d.app_id = ${row}.app_id
         AND d.event IS NOT NULL ORDER BY d.at DESC LIMIT 1),
      (SELECT e.payload FROM herald.events e WHERE e.app_id = ${row}.app_id AND e.id = ${row}.event_id
         ORDER BY e.stored_at DESC LIMIT 1))`;
}

function toDelivery(r: DeliveryDbRow): Delivery {
  const deliveryId = r.delivery_id;
  return {
    deliveryId,
    eventId: r.event_id ?? deliveryId.slice(0, Math.max(0, deliveryId.lastIndexOf(":"))),
    endpointId: r.endpoint_id ?? "",
    eventType: r.event_type ?? "",
    outcome: r.outcome,
    attemptCount: Math.max(0, r.attempt_count),
    firstAt: r.first_at,
    lastAt: r.at,
    statusCode: r.status,
    latencyMs: Math.max(0, r.latency_ms),
    error: r.error,
    url: r.url,
    dialect: r.dialect ?? "",
    trigger: r.trigger ?? "",
    lastAttemptId: r.id,
    replayable: r.replayable,
    event: r.event_bytes ?? Buffer.alloc(0),
  };
}

/**
 * Runs the listing; a body search runs under a statement timeout, and one that hits it is the
 * caller's to narrow (INVALID_ARGUMENT naming `search`), not Postgres being down.
 */
async function run(
  pool: pg.Pool,
  text: string,
  values: unknown[],
  bounded: boolean,
): Promise<DeliveryDbRow[]> {
  let client: pg.PoolClient | undefined;
  try {
    if (!bounded) return (await pool.query<DeliveryDbRow>(text, values)).rows;
    client = await pool.connect();
    await client.query("BEGIN READ ONLY");
    await client.query(`SET LOCAL statement_timeout = ${SEARCH_TIMEOUT_MS}`);
    const rows = (await client.query<DeliveryDbRow>(text, values)).rows;
    await client.query("COMMIT");
    return rows;
  } catch (err) {
    if (client) await client.query("ROLLBACK").catch(() => undefined);
    // 57014: query_canceled, here by the statement timeout.
    if (bounded && sqlState(err) === "57014") {
      throw new ValidationError(
        `search: the body search took over ${SEARCH_TIMEOUT_MS / 1000} s; narrow the time range or add filters`,
        { field: "search", cause: err },
      );
    }
    if (isUnavailable(err))
      throw new RetryableError("the log store's database is unavailable", { cause: err });
    throw err;
  } finally {
    client?.release();
  }
}
