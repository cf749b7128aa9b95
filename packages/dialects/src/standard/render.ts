import { eventType, type Event } from "@herald/proto";
import { parsePassthroughPayload } from "../openim/passthrough.js";
import { headerId } from "../header-id.js";
import { occurredAtMs } from "../openim/presence-event.js";
import type { HttpRequestSpec, JsonObject } from "../types.js";
import { InvalidWebhookSecretError } from "./errors.js";
import { signStandardWebhook } from "./sign.js";

export interface StandardWebhookInput {
  event: Event;
  /**
   * The delivery id (any Unicode): the same on every attempt, the receiver's idempotency key. Sent as
   * webhook-id in its header form (headerId), and that exact header value is what is signed.
   */
  msgId: string;
  /** webhook-timestamp: unix seconds of this attempt (a retry is signed afresh). */
  timestampSeconds: number;
  /** `whsec_<base64>` secrets; each signs the body (several during a rotation's overlap). */
  secrets: readonly string[];
  url: string;
}

/**
 * A Standard Webhooks (v1.0.0) request: body `{"type","timestamp","data"}`, headers `webhook-id`,
 * `webhook-timestamp`, `webhook-signature` (one `v1,…` per secret, space-separated) and `content-type`.
 */
export function renderStandardWebhook(input: StandardWebhookInput): HttpRequestSpec {
  const { event, timestampSeconds } = input;
  const msgId = headerId(input.msgId);
  if (input.secrets.length === 0) throw new InvalidWebhookSecretError("no secret to sign with");
  const body = JSON.stringify({
    type: eventType(event),
    timestamp: new Date(occurredAtMs(event)).toISOString(),
    data: standardWebhookData(event),
  });
  const signatures = input.secrets.map((secret) =>
    signStandardWebhook(secret, msgId, timestampSeconds, body),
  );
  return {
    method: "POST",
    url: input.url,
    headers: {
      "webhook-id": msgId,
      "webhook-timestamp": String(timestampSeconds),
      "webhook-signature": signatures.join(" "),
      "content-type": "application/json",
    },
    body,
  };
}

/**
 * The `data` of an event: its payload as plain camelCase JSON, every field present (proto defaults
 * included), timestamps as ISO 8601 strings. A passthrough's data is its payload_json object.
 */
export function standardWebhookData(event: Event): JsonObject {
  const payload = event.payload;
  if (payload === undefined) return {};
  if (payload.$case === "passthrough") return parsePassthroughPayload(event.id, payload.value.payloadJson);
  return plainJson(payload.value) as JsonObject;
}

function plainJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainJson);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plainJson(field)]));
  }
  return value;
}
