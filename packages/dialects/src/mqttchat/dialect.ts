import { COMMON_DEFAULTS, CannotSayError, MINUTE_MS, SECOND_MS, defineDialect } from "../dialect.js";
import { renderMqttChatMessage } from "./message.js";
import { renderMqttChatPresence } from "./presence.js";

/**
 * MQTT-chat's callbacks (seed 000): `{"userid","status","timestamp"}` on a user's change and
 * `{"from_userid","message",…}` per message, one per request, unsigned. The seed disables a URL "which
 * returns non-reachability or HTTP response codes 401, 403 etc." and warns that inaccessible URLs
 * "cause timeouts": unreachable, 3 timeouts in a row, and any 4xx but 408 and 429 disable it.
 */
export const mqttchat = defineDialect({
  name: "mqttchat",
  title: "MQTT-chat",
  summary:
    "seed 000's `{userid, status, timestamp}` per presence change (`userid: 0` on a node reset) and message bodies",
  signing: "unsigned, as MQTT-chat's own",
  signsWithSecrets: false,
  defaults: {
    eventTypes: ["user.online", "user.offline", "node.reset", "msg.sent"],
    timeoutMs: COMMON_DEFAULTS.timeoutMs,
    retry: {
      scheduleMs: [5 * SECOND_MS, 30 * SECOND_MS, 2 * MINUTE_MS, 10 * MINUTE_MS, 30 * MINUTE_MS],
      jitter: 0.1,
    },
    concurrency: COMMON_DEFAULTS.concurrency,
    ordering: "key",
    batch: COMMON_DEFAULTS.oneRecord,
    pauseOnTimeouts: COMMON_DEFAULTS.pauseOnTimeouts,
    disableOn: {
      unreachable: true,
      statuses: [
        [400, 407],
        [409, 428],
        [430, 499],
      ],
      timeoutsInARow: 3,
    },
    disableAfterFailingMs: 0,
  },
  maxBatchRecords: 1,
  renders: ["user.online", "user.offline", "node.reset", "msg.sent"],
  render: ({ url, items }) => {
    const event = items[0]?.event;
    const body = event && (renderMqttChatPresence(event) ?? renderMqttChatMessage(event));
    if (body === undefined)
      throw new CannotSayError(`the mqttchat dialect has no callback for ${event?.type}`);
    return { method: "POST", url, headers: { "content-type": "application/json" }, body };
  },
  template: { url: "https://" },
});
