import { z } from "zod";
import { appIdSchema, entityIdSchema, eventIdSchema, operationIdSchema } from "@herald/config";
import { protoFieldName, wireError } from "@herald/grpc";
import { TooLargeError, ValidationError } from "@herald/runtime";
import {
  DERIVED_PAYLOAD_CASES,
  enumChoices,
  enumFromJson,
  Event,
  eventType,
  NodeResetReason,
  OfflineReason,
  type BeforeRequest,
} from "@herald/proto";

// OpenIM's platform ids and names (constant.PlatformIDToName).
const PLATFORM_NAMES: Readonly<Record<number, string>> = {
  1: "IOS",
  2: "Android",
  3: "Windows",
  4: "OSX",
  5: "Web",
  6: "MiniWeb",
  7: "Linux",
  8: "APad",
  9: "IPad",
  10: "Admin",
};

export function platformName(platformId: number): string {
  return PLATFORM_NAMES[platformId] ?? "";
}

// The id rules live in @herald/config, shared with the admin API.
const appId = appIdSchema;
const eventId = eventIdSchema;
const entityId = entityIdSchema;
const operationId = operationIdSchema;
// Dialects send times as Unix seconds or milliseconds, which have no sensible value before the epoch;
// 9999 is where protobuf's Timestamp and four-digit ISO 8601 years end.
const TIME_RANGE = "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z";
const time = z
  .date({ error: TIME_RANGE })
  .min(new Date("1970-01-01T00:00:00Z"), TIME_RANGE)
  .max(new Date("9999-12-31T23:59:59.999Z"), TIME_RANGE);
/** The deepest JSON the gateway accepts: OpenIM's bodies nest a few levels; deeper would only strain parsers downstream. */
export const MAX_JSON_DEPTH = 64;
const optionalEntityId = z.union([z.literal(""), entityId]);
const nodeId = entityId;
const platformId = z.number().int().min(0).max(1000);
const roomStatus = z
  .number()
  .int()
  .min(0, "must be a RongCloud status 0-3")
  .max(3, "must be a RongCloud status 0-3");
const userIds = z.array(entityId).min(1, "must name at least one user").max(10_000);
// Parsed once here: the before-hook path uses the object it yields.
const jsonObjectText = z.string().transform((text, ctx): Record<string, unknown> => {
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    ctx.addIssue({ code: "custom", message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` });
    return z.NEVER;
  }
  const value = parseJsonObject(text);
  if (value === undefined) {
    ctx.addIssue({ code: "custom", message: "must be a JSON object" });
    return z.NEVER;
  }
  return value;
});
const command = z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "must be 1-64 characters of [A-Za-z0-9_]");

const payloadSchemas = {
  connectionOnline: z.object({
    userId: entityId,
    connId: entityId,
    platformId,
    nodeId,
  }),
  connectionOffline: z.object({
    userId: entityId,
    connId: entityId,
    platformId,
    nodeId: optionalEntityId,
    reason: z.number().refine((reason) => enumFromJson(OfflineReason, reason) !== undefined, {
      error: `must be one of ${enumChoices(OfflineReason)}`,
    }),
  }),
  connectionBackground: z.object({ userId: entityId, connId: entityId, nodeId: optionalEntityId }),
  // The other fields are what Herald sets on the reset it derives when a lease runs out.
  nodeReset: z.object({
    nodeId,
    reason: z
      .number()
      .refine((r) => r !== (NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED as number), {
        error: "LEASE_EXPIRED is set by Herald only; a chat core reports REPORTED or leaves it unset",
      })
      .refine((r) => enumFromJson(NodeResetReason, r) !== undefined, {
        error: `must be one of ${enumChoices(NodeResetReason)}`,
      }),
    beforeSeq: z.literal(0, { error: "is set by Herald only" }),
    lastHeartbeat: z.undefined({ error: "is set by Herald only" }),
    lease: z.undefined({ error: "is set by Herald only" }),
  }),
  nodeHeartbeat: z.object({
    nodeId,
    lease: z
      .object({
        seconds: z.number().int().min(0).max(86_400, "must be at most a day"),
        nanos: z.number().int().min(0).max(999_999_999),
      })
      .optional(),
  }),
  messageSent: z
    .object({
      messageId: entityId,
      fromUserId: entityId,
      toUserId: optionalEntityId,
      groupId: optionalEntityId,
      type: z.number().int().min(0, "must be an MQTT-chat type 0-5").max(5, "must be an MQTT-chat type 0-5"),
      seq: z.number().int().min(0),
      sentAt: time.optional(),
    })
    .refine((m) => (m.toUserId === "") !== (m.groupId === ""), {
      message: "exactly one of to_user_id and group_id must be set",
      path: ["toUserId"],
    }),
  roomCreated: z.object({ roomId: entityId, status: roomStatus }),
  roomJoined: z.object({ roomId: entityId, userIds, status: roomStatus }),
  roomLeft: z.object({ roomId: entityId, userIds, status: roomStatus }),
  roomDestroyed: z.object({ roomId: entityId, status: roomStatus }),
  passthrough: z.object({ command, payloadJson: jsonObjectText }),
} satisfies Record<ChatCorePayloadCase, z.ZodType>;

type ChatCorePayloadCase = Exclude<
  NonNullable<Event["payload"]>["$case"],
  | "userOnline"
  | "userOffline"
  | "userBackground"
  | "roomStatus"
  | "roomRejected"
  | "endpointDisabled"
  | "endpointPaused"
  | "endpointEnabled"
  | "endpointFailing"
  | "endpointRecovered"
  | "nodeLeaseCheck"
>;

const envelopeSchema = z.object({ id: eventId, appId, operationId, occurredAt: time.optional() });

/**
 * Checks one event as the chat core sent it and returns it ready to store: its type derived
 * from the payload, occurred-at defaulted to now, the platform name filled from its id.
 * Throws ValidationError naming the field as the proto spells it: `events[3].connection_online.user_id`.
 */
export function normalizeEvent(event: Event, index: number, now: Date): Event {
  const where = `events[${index}]`;
  const bad = wireError(event, `${where}.`, index);
  if (bad !== undefined) throw bad;
  check(envelopeSchema, event, where, index);
  const payload = event.payload;
  if (payload === undefined) {
    throw new ValidationError(`${where}.payload: one payload must be set`, {
      field: `${where}.payload`,
      index,
    });
  }
  if (DERIVED_PAYLOAD_CASES.has(payload.$case)) {
    const field = `${where}.${protoFieldName(payload.$case)}`;
    throw new ValidationError(`${field}: is derived by Herald; the chat core cannot publish it`, {
      field,
      index,
    });
  }
  check(
    payloadSchemas[payload.$case as ChatCorePayloadCase],
    payload.value,
    `${where}.${protoFieldName(payload.$case)}`,
    index,
  );
  const type = eventType(event);
  if (event.type !== "" && event.type !== type) {
    throw new ValidationError(`${where}.type: "${event.type}" does not match the payload (${type})`, {
      field: `${where}.type`,
      index,
    });
  }
  const ready = Event.fromPartial({ ...event, type, occurredAt: event.occurredAt ?? now });
  const conn = ready.payload;
  if (
    (conn?.$case === "connectionOnline" || conn?.$case === "connectionOffline") &&
    conn.value.platform === ""
  ) {
    conn.value.platform = platformName(conn.value.platformId);
  }
  return ready;
}

// Tencent's commands are dotted (C2C.CallbackBeforeSendMsg).
const beforeCommand = z.string().regex(/^[A-Za-z0-9_.]{1,64}$/, "must be 1-64 characters of [A-Za-z0-9_.]");
const beforeSchema = z.object({ appId, command: beforeCommand, operationId, payloadJson: jsonObjectText });

/**
 * Checks a before-hook request and returns its payload as an object; throws ValidationError
 * naming the field (`payload_json`), TooLargeError when the payload is over `limitBytes`.
 */
export function validateBefore(req: BeforeRequest, limitBytes: number): Record<string, unknown> {
  const bad = wireError(req);
  if (bad !== undefined) throw bad;
  checkSize("payload_json", Buffer.byteLength(req.payloadJson), limitBytes);
  return check(beforeSchema, req, "").payloadJson;
}

/** Throws TooLargeError naming `field` when `bytes` is over `limitBytes` (see largestPayloadBytes). */
export function checkSize(field: string, bytes: number, limitBytes: number, index?: number): void {
  if (bytes <= limitBytes) return;
  throw new TooLargeError(
    `${field}: ${bytes} bytes; at most ${limitBytes} bytes (what the bus can carry to delivery and its records)`,
    { field, index, limitBytes },
  );
}

/** Validates a whole batch before anything of it is stored. */
export function normalizeBatch(events: readonly Event[], maxBatch: number, now = new Date()): Event[] {
  if (events.length === 0) {
    throw new ValidationError("events: the batch is empty", { field: "events" });
  }
  if (events.length > maxBatch) {
    throw new ValidationError(`events: ${events.length} events in one batch; at most ${maxBatch}`, {
      field: "events",
    });
  }
  // A repeated id is not an error: JetStream stores it once and both results say so.
  return events.map((event, index) => normalizeEvent(event, index, now));
}

function check<S extends z.ZodType>(schema: S, value: unknown, where: string, index?: number): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${protoFieldName(String(p))}`))
    .join("");
  const field = `${where}${path ?? ""}`.replace(/^\./, "");
  throw new ValidationError(`${field}: ${issue?.message ?? "invalid"}`, { field, index });
}

/** Whether JSON text opens more than `max` objects and arrays inside one another (a linear scan, no recursion). */
function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // the escaped character cannot end the string
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
