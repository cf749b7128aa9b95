import { decodeAttemptRecords } from "@herald/bus";
import { TerminalError } from "@herald/runtime";
import { Event, causeEventId, eventType } from "@herald/proto";

/** One row of herald.attempts, as the writer inserts it. */
export interface AttemptRow {
  id: string;
  at: Date;
  kind: string;
  appId: string;
  hook: string | null;
  endpointId: string | null;
  eventId: string | null;
  deliveryId: string | null;
  attempt: number | null;
  eventType: string | null;
  dialect: string | null;
  trigger: string | null;
  /** "" when the callback kept no key's order. */
  orderingKey: string;
  keyWaitMs: number;
  /** "" when the request carried no trace. */
  traceId: string;
  operationId: string;
  url: string;
  requestBody: string;
  status: number;
  responseBody: string;
  latencyMs: number;
  outcome: string;
  error: string;
  event: Buffer | null;
}

/** One row of herald.events. */
export interface EventRow {
  id: string;
  appId: string;
  type: string;
  occurredAt: Date;
  operationId: string;
  userIds: string[];
  roomId: string | null;
  /** The event this one was derived from (presence, chatroom); null for the chat core's own. */
  causeEventId: string | null;
  payload: Buffer;
}

const INT32_MAX = 2_147_483_647;

/**
 * The rows of one ATTEMPTS message: an AttemptRecord or a batch of them (JSON, as @herald/bus publishes
 * them). A message that cannot be stored (not JSON, a record without id or valid time) is a
 * TerminalError: retrying it cannot help.
 */
export function attemptRows(data: Uint8Array): AttemptRow[] {
  let records: unknown[];
  try {
    records = decodeAttemptRecords(data);
  } catch (err) {
    throw new TerminalError("attempt record is not JSON", { cause: err });
  }
  return records.map(attemptRow);
}

function attemptRow(parsed: unknown): AttemptRow {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new TerminalError("attempt record is not a JSON object");
  }
  const r = parsed as Record<string, unknown>;
  const id = requiredText(r, "id");
  const appId = requiredText(r, "appId");
  const at = new Date(requiredText(r, "at"));
  if (Number.isNaN(at.getTime())) throw new TerminalError(`attempt record ${id}: at is not a time`);
  return {
    id,
    at,
    kind: optionalText(r, "kind") ?? "delivery",
    appId,
    hook: optionalText(r, "hook"),
    endpointId: optionalText(r, "endpointId"),
    eventId: optionalText(r, "eventId"),
    deliveryId: optionalText(r, "deliveryId"),
    attempt: optionalInt(r, "attempt"),
    eventType: optionalText(r, "eventType"),
    dialect: optionalText(r, "dialect"),
    trigger: optionalText(r, "trigger"),
    orderingKey: optionalText(r, "orderingKey") ?? "",
    keyWaitMs: Math.max(0, optionalInt(r, "keyWaitMs") ?? 0),
    traceId: optionalText(r, "traceId") ?? "",
    operationId: optionalText(r, "operationId") ?? "",
    url: optionalText(r, "url") ?? "",
    requestBody: optionalText(r, "requestBody") ?? "",
    status: optionalInt(r, "status") ?? 0,
    responseBody: optionalText(r, "responseBody") ?? "",
    latencyMs: optionalInt(r, "latencyMs") ?? 0,
    outcome: optionalText(r, "outcome") ?? "",
    error: optionalText(r, "error") ?? "",
    event: typeof r.event === "string" && r.event !== "" ? Buffer.from(r.event, "base64") : null,
  };
}

/** A stored Event (protobuf, as EVENTS holds it) as a row; undecodable bytes are a TerminalError. */
export function eventRow(data: Uint8Array): EventRow {
  let event: Event;
  try {
    event = Event.decode(data);
  } catch (err) {
    throw new TerminalError("event does not decode", { cause: err });
  }
  if (event.id === "" || event.appId === "") throw new TerminalError("event has no id or app id");
  let type = event.type;
  if (type === "") {
    try {
      type = eventType(event);
    } catch {
      type = "unknown";
    }
  }
  const { userIds, roomId } = namedInEvent(event);
  return {
    id: clean(event.id),
    appId: clean(event.appId),
    type: clean(type),
    // Herald stamps occurred_at at intake; the epoch is only a fallback for a malformed event
    // (stable across redeliveries, unlike the time of storing, so the row stays idempotent).
    occurredAt: event.occurredAt ?? new Date(0),
    operationId: clean(event.operationId),
    userIds,
    roomId,
    causeEventId: causeOf(event),
    payload: Buffer.from(data),
  };
}

/** The users an event names (for the user filter) and the chatroom it is about. */
export function namedInEvent(event: Event): { userIds: string[]; roomId: string | null } {
  const users: string[] = [];
  let roomId: string | null = null;
  const p = event.payload;
  switch (p?.$case) {
    case "connectionOnline":
    case "connectionOffline":
    case "connectionBackground":
    case "userOnline":
    case "userOffline":
    case "userBackground":
      users.push(p.value.userId);
      break;
    case "messageSent":
      users.push(p.value.fromUserId, p.value.toUserId, ...p.value.atUserIds);
      break;
    case "roomJoined":
    case "roomLeft":
    case "roomStatus":
    case "roomRejected":
      users.push(...p.value.userIds);
      roomId = p.value.roomId;
      break;
    case "roomCreated":
    case "roomDestroyed":
      roomId = p.value.roomId;
      break;
    default:
      break;
  }
  return {
    userIds: [...new Set(users.filter((u) => u !== "").map(clean))],
    roomId: roomId === null || roomId === "" ? null : clean(roomId),
  };
}

/** The cause_event_id of an event Herald derived; null for any other (and for an empty one). */
export function causeOf(event: Event): string | null {
  const cause = causeEventId(event);
  return cause === "" ? null : clean(cause);
}

function requiredText(r: Record<string, unknown>, field: string): string {
  const v = r[field];
  if (typeof v !== "string" || v === "") throw new TerminalError(`attempt record: ${field} is missing`);
  return clean(v);
}

function optionalText(r: Record<string, unknown>, field: string): string | null {
  const v = r[field];
  if (typeof v === "string") return clean(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

// A count that does not fit the int column is clamped rather than failing the whole batch.
function optionalInt(r: Record<string, unknown>, field: string): number | null {
  const v = r[field];
  if (typeof v !== "number" || !Number.isFinite(v)) return null;
  return Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(v)));
}

// Postgres text cannot hold NUL; a business server's response body may.
function clean(s: string): string {
  return s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s;
}
