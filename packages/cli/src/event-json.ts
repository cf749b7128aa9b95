import { randomBytes } from "node:crypto";
import { DERIVED_PAYLOAD_CASES, Event, OfflineReason, enumChoices, enumFromJson } from "@herald/proto";
import { UsageError } from "./errors.js";

/**
 * Events as a user writes them in JSON: one Event, an array, or {events: [...]}, in proto3 JSON with
 * field names camelCase or snake_case and enums by name. ts-proto's Event.fromJSON reads both spellings
 * but silently drops unknown fields, turns objects into "[object Object]" and unknown enum names into
 * UNRECOGNIZED; this checks the input first, so a typo is an error that names the field.
 */
export function eventsFromJson(text: string, source: string, defaults: EventDefaults): Event[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(source, `is not JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(value)
    ? value
    : isObject(value) && Array.isArray(value["events"]) && Object.keys(value).length === 1
      ? value["events"]
      : [value];
  if (list.length === 0) throw new UsageError(source, "holds no events");
  return list.map((item: unknown, i) => eventFromJson(item, `events[${i}]`, defaults));
}

export interface EventDefaults {
  /** The app of events that name none (--app). */
  appId?: string;
}

/** A fresh id for an event or an operation: time-ordered, unique enough for one CLI. */
export function newId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;
}

/** An OfflineReason by its full name (OFFLINE_REASON_LOGOUT), its short one (LOGOUT, logout) or number. */
export function offlineReason(value: unknown, field: string): OfflineReason {
  const reason = enumFromJson(OfflineReason, value);
  if (reason !== undefined) return reason;
  throw new UsageError(field, `expected one of ${enumChoices(OfflineReason)}, got ${JSON.stringify(value)}`);
}

function eventFromJson(item: unknown, where: string, defaults: EventDefaults): Event {
  if (!isObject(item)) throw new UsageError(where, "expected an event object");
  const envelope = Object.keys(Event.fromJSON({}));
  const input: Record<string, unknown> = {};
  let payloadKey: string | undefined;
  for (const [key, value] of Object.entries(item)) {
    const name = camel(key);
    if (name !== "payload" && envelope.includes(name)) {
      input[name] = value;
      continue;
    }
    const $case = Event.fromJSON({ [name]: {} }).payload?.$case;
    if ($case === undefined) {
      throw new UsageError(
        `${where}.${key}`,
        `unknown field (an event has ${envelopeNames(envelope)} and one payload)`,
      );
    }
    if (payloadKey !== undefined) {
      throw new UsageError(`${where}.${key}`, `a second payload: ${payloadKey} is set already`);
    }
    if (DERIVED_PAYLOAD_CASES.has($case)) {
      throw new UsageError(`${where}.${key}`, "is derived by Herald; the chat core cannot publish it");
    }
    payloadKey = key;
    input[$case] = payloadFromJson($case, value, `${where}.${key}`);
  }
  if (payloadKey === undefined) {
    throw new UsageError(`${where}`, "has no payload (connectionOnline, messageSent, roomJoined, …)");
  }
  for (const field of ["id", "appId", "operationId", "type"]) {
    if (input[field] !== undefined && typeof input[field] !== "string") {
      throw new UsageError(`${where}.${field}`, `expected a string, got ${JSON.stringify(input[field])}`);
    }
  }
  if (input["occurredAt"] !== undefined && !isTime(input["occurredAt"])) {
    throw new UsageError(`${where}.occurredAt`, "expected an RFC 3339 time, e.g. 2025-01-31T12:00:00Z");
  }
  const event = Event.fromJSON(input);
  if (event.id === "") event.id = newId("cli");
  if (event.operationId === "") event.operationId = newId("op");
  if (event.appId === "" && defaults.appId !== undefined) event.appId = defaults.appId;
  if (event.appId === "")
    throw new UsageError(`${where}.appId`, "missing: give it in the event or with --app");
  return event;
}

/** A payload object checked field by field against what its message has, enum names resolved. */
function payloadFromJson($case: string, value: unknown, where: string): Record<string, unknown> {
  if (!isObject(value)) throw new UsageError(where, "expected an object");
  const blank = (Event.fromJSON({ [$case]: {} }).payload?.value ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, given] of Object.entries(value)) {
    const name = camel(key);
    const field = `${where}.${key}`;
    if (!(name in blank)) {
      throw new UsageError(field, `unknown field (expected one of ${Object.keys(blank).join(", ")})`);
    }
    if (name === "reason") out[name] = offlineReason(given, field);
    // The OpenIM body of a passthrough may be written as the object it is rather than as JSON text.
    else if (name === "payloadJson" && isObject(given)) out[name] = JSON.stringify(given);
    else out[name] = checkedValue(blank[name], given, field);
  }
  return out;
}

/** `given` must have the JSON type of the field whose empty value is `empty`. */
function checkedValue(empty: unknown, given: unknown, field: string): unknown {
  const wrong = (expected: string) =>
    new UsageError(field, `expected ${expected}, got ${JSON.stringify(given)}`);
  if (typeof empty === "string") {
    if (typeof given !== "string") throw wrong("a string");
  } else if (typeof empty === "number") {
    // proto3 JSON writes 64-bit integers as strings.
    const n = typeof given === "string" && /^-?\d+$/.test(given) ? Number(given) : given;
    if (typeof n !== "number" || !Number.isSafeInteger(n)) throw wrong("an integer");
    return n;
  } else if (typeof empty === "boolean") {
    if (typeof given !== "boolean") throw wrong("true or false");
  } else if (Array.isArray(empty)) {
    if (!Array.isArray(given) || given.some((v) => typeof v !== "string")) throw wrong("a list of strings");
  } else if (empty === undefined && typeof given === "string" && !isTime(given)) {
    throw wrong("an RFC 3339 time, e.g. 2025-01-31T12:00:00Z");
  }
  return given;
}

function isTime(value: unknown): boolean {
  return typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value));
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function envelopeNames(names: string[]): string {
  return names.filter((n) => n !== "payload").join(", ");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
