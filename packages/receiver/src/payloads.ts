import { z } from "zod";
import { PayloadError } from "./errors.js";
import { decodeHeaderId } from "./header-ids.js";
import { headerValues, type IncomingHeaders } from "./headers.js";
import { parseJson, validate } from "./parse-json.js";

// Wire names stay as each dialect spells them.

const eventType = z
  .string()
  .regex(/^[a-zA-Z0-9_]+(\.[a-zA-Z0-9_]+)*$/, "dot-separated [a-zA-Z0-9_] segments");

const standardWebhookPayload = z.object({
  type: eventType,
  timestamp: z.iso.datetime({ offset: true }),
  data: z.record(z.string(), z.unknown()),
});
export type StandardWebhookPayload = { type: string; timestamp: string; data: Record<string, unknown> };

/** Parses a Standard Webhooks body `{type, timestamp (ISO 8601), data}`. */
export function parseStandardWebhook(body: string): StandardWebhookPayload {
  return validate(standardWebhookPayload, parseJson(body), "Standard Webhooks payload");
}

const mqttUserId = z.union([z.number().int(), z.string().min(1)]);

const mqttChatPresence = z.object({
  userid: mqttUserId,
  status: z.enum(["online", "offline"]),
  timestamp: z.number().int(),
});
export type MqttChatPresence = { userid: number | string; status: "online" | "offline"; timestamp: number };

const mqttChatMessage = z.object({
  from_userid: mqttUserId,
  to_userid: mqttUserId,
  message: z.object({
    id: z.union([z.number().int(), z.string().min(1)]),
    message: z.string(),
    timestamp: z.number().int(),
    type: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5)]),
    p1: z.string(),
    p2: z.string(),
    p3: z.string(),
  }),
});
export type MqttChatMessage = {
  from_userid: number | string;
  to_userid: number | string;
  message: {
    id: number | string;
    message: string;
    timestamp: number;
    type: 0 | 1 | 2 | 3 | 4 | 5;
    p1: string;
    p2: string;
    p3: string;
  };
};

export type MqttChatCallback =
  { kind: "presence"; presence: MqttChatPresence } | { kind: "message"; message: MqttChatMessage };

/** Parses an MQTT-chat callback; a body with `from_userid` or `message` is a message, else presence. */
export function parseMqttChat(body: string): MqttChatCallback {
  const value = parseJson(body);
  if (typeof value === "object" && value !== null && ("from_userid" in value || "message" in value)) {
    return { kind: "message", message: validate(mqttChatMessage, value, "MQTT-chat message") };
  }
  return { kind: "presence", presence: validate(mqttChatPresence, value, "MQTT-chat presence") };
}

const rongCloudChatroomBatch = z.array(
  z.object({
    chatRoomId: z.string().min(1),
    userIds: z.array(z.string()),
    status: z.number().int(),
    type: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
    time: z.number().int(),
  }),
);
export type RongCloudChatroomRecord = {
  chatRoomId: string;
  userIds: string[];
  status: number;
  type: 0 | 1 | 2 | 3;
  time: number;
};

/** Parses a RongCloud chatroom status callback: a JSON array of records. */
export function parseRongCloudChatroomBatch(body: string): RongCloudChatroomRecord[] {
  return validate(rongCloudChatroomBatch, parseJson(body), "RongCloud chatroom batch");
}

const openImBody = z.looseObject({ callbackCommand: z.string().min(1) });

export type OpenImCallback = { command: string; operationId: string; body: Record<string, unknown> };

export interface ParseOpenImInput {
  url: string;
  headers: IncomingHeaders;
  body: string;
}

function openImCommand(url: string): string {
  const parsed = new URL(url, "http://receiver.invalid");
  const fromQuery = parsed.searchParams.get("command");
  if (fromQuery !== null && fromQuery !== "") return fromQuery;
  const fromPath = parsed.pathname
    .split("/")
    .filter((segment) => segment !== "")
    .at(-1);
  if (fromPath === undefined)
    throw new PayloadError("command", "URL has neither a path segment nor ?command=");
  return decodeURIComponent(fromPath);
}

/**
 * Parses an OpenIM callback: the command comes from `{url}/{command}` or `?command=` and must equal
 * the body's callbackCommand; the operationID header is required (decoded: see decodeHeaderId).
 */
export function parseOpenIm(input: ParseOpenImInput): OpenImCallback {
  const command = openImCommand(input.url);
  const [operationId] = headerValues(input.headers, "operationID");
  if (operationId === undefined || operationId === "") {
    throw new PayloadError("operationID", "OpenIM callback has no operationID header");
  }
  const body = validate(openImBody, parseJson(input.body), "OpenIM callback");
  if (body.callbackCommand !== command) {
    throw new PayloadError(
      "callbackCommand",
      `body says "${body.callbackCommand}" but the URL's command is "${command}"`,
    );
  }
  return { command, operationId: decodeHeaderId(operationId, "operationID"), body };
}
