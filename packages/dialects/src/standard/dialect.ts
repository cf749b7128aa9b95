import {
  COMMON_DEFAULTS,
  CannotSayError,
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  SECOND_MS,
  defineDialect,
} from "../dialect.js";
import { renderStandardWebhook } from "./render.js";

/**
 * Standard Webhooks v1: `{"type","timestamp","data"}` with webhook-id, webhook-timestamp and an HMAC
 * webhook-signature per secret. Any event; any order (the spec tells receivers to expect it); the
 * spec's example retry schedule; disabled on 410 Gone or after 5 days failing (Svix).
 */
export const standard = defineDialect({
  name: "standard",
  title: "Standard Webhooks",
  summary: "any event as `{type, timestamp, data}`",
  signing: "`webhook-signature`: HMAC-SHA256 of `id.timestamp.body`, one `v1,` per `whsec_` secret",
  signsWithSecrets: true,
  defaults: {
    eventTypes: [
      "user.online",
      "user.offline",
      "user.background",
      "msg.sent",
      "room.status",
      "node.reset",
      "openim.*",
    ],
    timeoutMs: COMMON_DEFAULTS.timeoutMs,
    retry: {
      scheduleMs: [
        5 * SECOND_MS,
        5 * MINUTE_MS,
        30 * MINUTE_MS,
        2 * HOUR_MS,
        5 * HOUR_MS,
        10 * HOUR_MS,
        14 * HOUR_MS,
        20 * HOUR_MS,
        24 * HOUR_MS,
      ],
      jitter: 0.2,
    },
    concurrency: COMMON_DEFAULTS.concurrency,
    ordering: "none",
    batch: COMMON_DEFAULTS.oneRecord,
    pauseOnTimeouts: COMMON_DEFAULTS.pauseOnTimeouts,
    disableOn: { unreachable: false, statuses: [[410, 410]], timeoutsInARow: 0 },
    disableAfterFailingMs: 5 * DAY_MS,
  },
  maxBatchRecords: 1,
  renders: ["*"],
  render: ({ url, secrets, items, now }) => {
    const item = items[0];
    if (item === undefined) throw new CannotSayError("nothing to send");
    return renderStandardWebhook({
      event: item.event,
      msgId: item.deliveryId,
      timestampSeconds: Math.floor(now.getTime() / 1000),
      secrets,
      url,
    });
  },
  template: { url: "https://", secrets: [{ value: "" }] },
});
