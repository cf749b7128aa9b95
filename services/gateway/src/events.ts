import { z } from "zod";
import { ValidationError } from "@herald/runtime";
import { DERIVED_PAYLOAD_CASES, Event, eventType, type BeforeRequest } from "@herald/proto";

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

// Ids become NATS subject tokens and KV keys: no dots, wildcards or whitespace.
export const appId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 characters of [A-Za-z0-9_-]");
export const eventId = z
  .string()
  .regex(/^[A-Za-z0-9_:.-]{1,128}$/, "must be 1-128 characters of [A-Za-z0-9_:.-]");
export const entityId = z
  .string()
  .min(1, "must not be empty")
  .max(256, "must be at most 256 characters")
  .regex(/^[^\s*>]+$/, "must not contain whitespace, '*' or '>'");
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
    reason: z.number().int().min(0).max(4),
  }),
  connectionBackground: z.object({ userId: entityId, connId: entityId, nodeId: optionalEntityId }),
  nodeReset: z.object({ nodeId }),
  nodeHeartbeat: z.object({ nodeId }),
  messageSent: z
    .object({
      messageId: entityId,
      fromUserId: entityId,
      toUserId: optionalEntityId,
      groupId: optionalEntityId,
      type: z.number().int().min(0, "must be an MQTT-chat type 0-5").max(5, "must be an MQTT-chat type 0-5"),
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
  "userOnline" | "userOffline" | "userBackground" | "roomStatus" | "roomRejected"
>;

const envelopeSchema = z.object({ id: eventId, appId });

/**
 * Checks one event as the chat core sent it and returns it ready to store: its type derived
 * from the payload, occurred-at defaulted to now, the platform name filled from its id.
 * Throws ValidationError naming the field as the proto spells it: `events[3].connection_online.user_id`.
 */
export function normalizeEvent(event: Event, index: number, now: Date): Event {
  const where = `events[${index}]`;
  check(envelopeSchema, event, where, index);
  const payload = event.payload;
  if (payload === undefined) {
    throw new ValidationError(`${where}.payload: one payload must be set`, {
      field: `${where}.payload`,
      index,
    });
  }
  if (DERIVED_PAYLOAD_CASES.has(payload.$case)) {
    const field = `${where}.${snake(payload.$case)}`;
    throw new ValidationError(`${field}: is derived by Herald; the chat core cannot publish it`, {
      field,
      index,
    });
  }
  check(
    payloadSchemas[payload.$case as ChatCorePayloadCase],
    payload.value,
    `${where}.${snake(payload.$case)}`,
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

const beforeSchema = z.object({ appId, command, payloadJson: jsonObjectText });

/**
 * Checks a before-hook request and returns its payload as an object; throws ValidationError
 * naming the field (`payload_json`).
 */
export function validateBefore(req: BeforeRequest): Record<string, unknown> {
  return check(beforeSchema, req, "").payloadJson;
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
  const path = issue?.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${snake(String(p))}`)).join("");
  const field = `${where}${path ?? ""}`.replace(/^\./, "");
  throw new ValidationError(`${field}: ${issue?.message ?? "invalid"}`, { field, index });
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
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
