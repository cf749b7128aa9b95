import { randomInt } from "node:crypto";
import { z } from "zod";
import { COMMON_DEFAULTS, CannotSayError, SECOND_MS, defineDialect } from "../dialect.js";
import { mapping, nonEmptyText } from "../zod-text.js";
import { rongCloudChatroomRecord } from "./chatroom.js";
import { rongCloudPresenceRecord } from "./presence.js";
import { rongCloudSignedUrl } from "./signature.js";

export interface RongCloudEndpointSettings {
  appKey: string;
  appSecret: string;
}

function recordOf(event: Parameters<typeof rongCloudPresenceRecord>[0]) {
  return rongCloudPresenceRecord(event) ?? rongCloudChatroomRecord(event);
}

/**
 * RongCloud's sync callbacks (seed 001): JSON arrays of records (chatroom status; user online status),
 * the URL signed with appKey, timestamp, nonce and sha1 signature. RongCloud gives each kind its own
 * URL, so an endpoint that names no eventTypes gets what the chatroom status URL gets: room records.
 */
export const rongcloud = defineDialect({
  name: "rongcloud",
  title: "RongCloud",
  summary: "JSON arrays of chatroom status records or online status records (seed 001)",
  signing: "query `appKey, timestamp, nonce, signature = hex(sha1(appSecret + nonce + timestamp))`",
  settings: {
    key: "rongcloud",
    schema: z.strictObject(
      { appKey: nonEmptyText("an app key"), appSecret: nonEmptyText("an app secret") },
      mapping,
    ),
    required: "required for dialect rongcloud: appKey and appSecret",
    secretFields: ["appSecret"],
    complete: (given): RongCloudEndpointSettings => {
      const { appKey, appSecret } = given as RongCloudEndpointSettings;
      return { appKey, appSecret };
    },
  },
  signsWithSecrets: false,
  defaults: {
    eventTypes: ["room.status"],
    timeoutMs: COMMON_DEFAULTS.timeoutMs,
    // RongCloud's documentation: "retries twice".
    retry: { scheduleMs: [SECOND_MS, 5 * SECOND_MS], jitter: 0 },
    concurrency: COMMON_DEFAULTS.concurrency,
    ordering: "key",
    batch: { maxRecords: 100, maxLingerMs: 200 },
    pauseOnTimeouts: COMMON_DEFAULTS.pauseOnTimeouts,
    disableOn: COMMON_DEFAULTS.neverDisable,
    disableAfterFailingMs: 0,
  },
  maxBatchRecords: 1_000,
  renders: ["user.online", "user.offline", "room.status"],
  says: (event) => recordOf(event) !== undefined,
  render: ({ url, settings, items, now }) => {
    const records = items.map(({ event }) => {
      const record = recordOf(event);
      if (record === undefined)
        throw new CannotSayError(`the rongcloud dialect has no record for ${event.type}`);
      return record;
    });
    return {
      method: "POST",
      url: rongCloudSignedUrl(url, {
        appKey: settings.appKey,
        appSecret: settings.appSecret,
        nonce: String(randomInt(100_000_000, 1_000_000_000)),
        timestampMs: now.getTime(),
      }),
      headers: { "content-type": "application/json" },
      body: JSON.stringify(records),
    };
  },
  template: { url: "https://", rongcloud: { appKey: "", appSecret: "" } },
});
