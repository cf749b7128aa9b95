import { randomInt } from "node:crypto";
import type { AppConfig, EndpointConfig } from "@herald/config";
import {
  deliveryIdHeader,
  renderMqttChatMessage,
  renderMqttChatPresence,
  renderOpenImAfter,
  renderStandardWebhook,
  rongCloudChatroomRecord,
  rongCloudPresenceRecord,
  rongCloudSignedUrl,
} from "@herald/dialects";
import type { HttpRequestSpec } from "@herald/dialects";
import type { Event } from "@herald/proto";
import { TerminalError } from "@herald/runtime";

const JSON_HEADERS = { "content-type": "application/json" } as const;

/**
 * The request for one job of a one-event dialect (openim, mqttchat, standard), rendered at send time,
 * so a URL or secret changed since routing applies. An event the dialect cannot say is a TerminalError.
 */
export function renderSingle(
  endpoint: EndpointConfig,
  app: AppConfig,
  event: Event,
  deliveryId: string,
  now: Date,
): HttpRequestSpec {
  const spec = renderOrUndefined(endpoint, app, event, deliveryId, now);
  if (spec === undefined) {
    throw new TerminalError(`the ${endpoint.dialect} dialect has no callback for event ${event.id}`);
  }
  return spec;
}

function renderOrUndefined(
  endpoint: EndpointConfig,
  app: AppConfig,
  event: Event,
  deliveryId: string,
  now: Date,
): HttpRequestSpec | undefined {
  switch (endpoint.dialect) {
    case "openim": {
      const spec = renderOpenImAfter(event, {
        baseUrl: endpoint.url,
        urlStyle: endpoint.openim?.urlStyle ?? app.openim?.urlStyle ?? "path",
        naming: endpoint.openim?.commandNames ?? app.openim?.commandNames ?? "seed",
      });
      return spec && withDeliveryId(spec, deliveryId);
    }
    case "mqttchat": {
      const body = renderMqttChatPresence(event) ?? renderMqttChatMessage(event);
      if (body === undefined) return undefined;
      return {
        method: "POST",
        url: endpoint.url,
        headers: { ...JSON_HEADERS, ...deliveryIdHeader([deliveryId]) },
        body,
      };
    }
    case "standard": {
      const spec = renderStandardWebhook({
        event,
        msgId: deliveryId,
        timestampSeconds: Math.floor(now.getTime() / 1000),
        secrets: signingSecrets(endpoint, now),
        url: endpoint.url,
      });
      return withDeliveryId(spec, deliveryId);
    }
    case "rongcloud":
      throw new TerminalError("rongcloud jobs are sent in batches");
  }
}

/** The secrets that sign now: every one not yet expired, newest first (both, during a rotation's overlap). */
export function signingSecrets(endpoint: EndpointConfig, now: Date): string[] {
  return endpoint.secrets
    .filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now.getTime())
    .map((s) => s.value);
}

export type RongCloudRecord = NonNullable<
  ReturnType<typeof rongCloudPresenceRecord> | ReturnType<typeof rongCloudChatroomRecord>
>;

/** One event's entry in a RongCloud batch; a TerminalError for an event RongCloud has no record for. */
export function rongCloudRecord(event: Event): RongCloudRecord {
  const record = rongCloudPresenceRecord(event) ?? rongCloudChatroomRecord(event);
  if (record === undefined)
    throw new TerminalError(`the rongcloud dialect has no record for event ${event.id}`);
  return record;
}

/** A RongCloud batch: the records as one JSON array, the URL signed afresh (appKey, timestamp, nonce, signature). */
export function renderRongCloudBatch(
  endpoint: EndpointConfig,
  records: readonly RongCloudRecord[],
  deliveryIds: readonly string[],
  now: Date,
): HttpRequestSpec {
  const keys = endpoint.rongcloud;
  if (keys === undefined)
    throw new TerminalError(`endpoint ${endpoint.id} has no rongcloud appKey/appSecret`);
  return {
    method: "POST",
    url: rongCloudSignedUrl(endpoint.url, {
      appKey: keys.appKey,
      appSecret: keys.appSecret,
      nonce: String(randomInt(100_000_000, 1_000_000_000)),
      timestampMs: now.getTime(),
    }),
    headers: { ...JSON_HEADERS, ...deliveryIdHeader(deliveryIds) },
    body: JSON.stringify(records),
  };
}

// Every request carries the id the receiver deduplicates on (a list, for a batch), in its header form.
function withDeliveryId(spec: HttpRequestSpec, deliveryId: string): HttpRequestSpec {
  return { ...spec, headers: { ...spec.headers, ...deliveryIdHeader([deliveryId]) } };
}
