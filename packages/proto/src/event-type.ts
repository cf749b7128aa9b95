import type { Event } from "./gen/herald/v1/event.js";

/** The payload cases that Herald derives itself; the chat core may not publish them. */
export const DERIVED_PAYLOAD_CASES: ReadonlySet<string> = new Set([
  "userOnline",
  "userOffline",
  "userBackground",
  "roomStatus",
  "roomRejected",
  "endpointDisabled",
  "endpointPaused",
  "endpointEnabled",
  "endpointFailing",
  "endpointRecovered",
  "nodeLeaseCheck",
]);

/** The payload cases of an Event, as ts-proto names them (`$case`). */
export type EventPayloadCase = NonNullable<Event["payload"]>["$case"];

/** Passthrough events are typed `openim.<command>`; every other case has a fixed type. */
export const PASSTHROUGH_TYPE_PREFIX = "openim.";

const FIXED_TYPE_BY_CASE = {
  connectionOnline: "conn.online",
  connectionOffline: "conn.offline",
  connectionBackground: "conn.background",
  nodeReset: "node.reset",
  nodeHeartbeat: "node.heartbeat",
  nodeLeaseCheck: "node.lease_check",
  messageSent: "msg.sent",
  roomCreated: "room.created",
  roomJoined: "room.joined",
  roomLeft: "room.left",
  roomDestroyed: "room.destroyed",
  userOnline: "user.online",
  userOffline: "user.offline",
  userBackground: "user.background",
  roomStatus: "room.status",
  roomRejected: "room.rejected",
  endpointDisabled: "endpoint.disabled",
  endpointPaused: "endpoint.paused",
  endpointEnabled: "endpoint.enabled",
  endpointFailing: "endpoint.failing",
  endpointRecovered: "endpoint.recovered",
} as const satisfies Record<Exclude<EventPayloadCase, "passthrough">, string>;

/** An event type that does not depend on the payload's content (all but `openim.<command>`). */
export type FixedEventType = (typeof FIXED_TYPE_BY_CASE)[keyof typeof FIXED_TYPE_BY_CASE];

/** Every fixed event type, in the order of the payload's field numbers. */
export const EVENT_TYPES: readonly FixedEventType[] = Object.freeze(Object.values(FIXED_TYPE_BY_CASE));

/**
 * Herald's operational events (Svix's "operational webhooks"): a change of an endpoint's state, by the
 * payload case that carries it. Only an app's operational endpoints receive them, and only they.
 */
export const OPERATIONAL_CASE_BY_KIND = {
  disabled: "endpointDisabled",
  paused: "endpointPaused",
  enabled: "endpointEnabled",
  failing: "endpointFailing",
  recovered: "endpointRecovered",
} as const satisfies Record<string, EventPayloadCase>;

/** What changed about an endpoint: the `<kind>` of its operational event type `endpoint.<kind>`. */
export type OperationalKind = keyof typeof OPERATIONAL_CASE_BY_KIND;

/** Every operational event type ("endpoint.disabled", ...). */
export const OPERATIONAL_EVENT_TYPES: readonly FixedEventType[] = Object.freeze(
  Object.values(OPERATIONAL_CASE_BY_KIND).map((c) => FIXED_TYPE_BY_CASE[c]),
);

/** Whether `type` is an operational event type. */
export function isOperationalEventType(type: string): boolean {
  return (OPERATIONAL_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * Event types that only Herald's own folds read (presence's lease checks): stored and logged, never
 * delivered to any endpoint.
 */
export const INTERNAL_EVENT_TYPES: readonly FixedEventType[] = Object.freeze([
  FIXED_TYPE_BY_CASE.nodeLeaseCheck,
]);

/** Whether `type` is an internal event type, delivered nowhere. */
export function isInternalEventType(type: string): boolean {
  return (INTERNAL_EVENT_TYPES as readonly string[]).includes(type);
}

/** An Event without a payload has no type; the gateway rejects it before asking for one. */
export class MissingEventPayloadError extends Error {
  override readonly name = "MissingEventPayloadError";
  readonly eventId: string;

  constructor(eventId: string, options?: ErrorOptions) {
    super(`event ${JSON.stringify(eventId)} has no payload`, options);
    this.eventId = eventId;
  }
}

/** The type string of an event, derived from its payload case. Throws MissingEventPayloadError. */
export function eventType(event: Event): string {
  const payload = event.payload;
  if (payload === undefined) throw new MissingEventPayloadError(event.id);
  if (payload.$case === "passthrough") return `${PASSTHROUGH_TYPE_PREFIX}${payload.value.command}`;
  return FIXED_TYPE_BY_CASE[payload.$case];
}
