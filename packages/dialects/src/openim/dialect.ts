import { z } from "zod";
import { COMMON_DEFAULTS, CannotSayError, HOUR_MS, MINUTE_MS, SECOND_MS, defineDialect } from "../dialect.js";
import { mapping } from "../zod-text.js";
import { renderOpenImAfter } from "./after.js";
import type { CommandNaming } from "./hooks.js";
import type { UrlStyle } from "./before.js";
import { openImBefore } from "./before-hooks.js";

export const openImUrlStyleSchema = z.enum(["path", "query"], { error: 'expected "path" or "query"' });
export const openImCommandNamesSchema = z.enum(["seed", "current"], {
  error: 'expected "seed" or "current"',
});

/** How an endpoint calls OpenIM-style URLs; left out, the app's webhooks.yml style, else path and seed names. */
export interface OpenImEndpointSettings {
  urlStyle: UrlStyle;
  commandNames: CommandNaming;
}

/**
 * OpenIM's webhooks (seed 002): each event to `{url}/{command}` (or `?command=`) with OpenIM's body and
 * operationID header, one request per event. Presence is per connection, as OpenIM's msg-gateway sends
 * it: each login (conn.online) is a callbackUserOnlineCommand with its connID and platform, each logout
 * a callbackUserOfflineCommand; the user-level change (user.online/offline) can be chosen instead.
 */
export const openim = defineDialect({
  name: "openim",
  title: "OpenIM webhooks",
  summary:
    "OpenIM's callback commands and bodies (seed 002), one event per request, with an `operationID` header",
  signing: "unsigned, as OpenIM's own",
  settings: {
    key: "openim",
    schema: z.strictObject(
      { urlStyle: openImUrlStyleSchema.optional(), commandNames: openImCommandNamesSchema.optional() },
      mapping,
    ),
    secretFields: [],
    complete: (given, app): OpenImEndpointSettings => {
      const own = given as Partial<OpenImEndpointSettings> | undefined;
      return {
        urlStyle: own?.urlStyle ?? app.openim?.urlStyle ?? "path",
        commandNames: own?.commandNames ?? app.openim?.commandNames ?? "seed",
      };
    },
  },
  signsWithSecrets: false,
  defaults: {
    eventTypes: ["conn.online", "conn.offline", "user.offline", "msg.sent", "openim.*"],
    timeoutMs: COMMON_DEFAULTS.timeoutMs,
    retry: {
      scheduleMs: [
        SECOND_MS,
        5 * SECOND_MS,
        30 * SECOND_MS,
        2 * MINUTE_MS,
        10 * MINUTE_MS,
        30 * MINUTE_MS,
        HOUR_MS,
        2 * HOUR_MS,
        6 * HOUR_MS,
      ],
      jitter: 0.1,
    },
    concurrency: COMMON_DEFAULTS.concurrency,
    ordering: "key",
    batch: COMMON_DEFAULTS.oneRecord,
    pauseOnTimeouts: COMMON_DEFAULTS.pauseOnTimeouts,
    disableOn: COMMON_DEFAULTS.neverDisable,
    disableAfterFailingMs: 0,
  },
  maxBatchRecords: 1,
  renders: ["conn.online", "conn.offline", "user.online", "user.offline", "msg.sent", "openim.*"],
  // Per connection, the user's offline is said only when it comes from a node reset: the chat core
  // lost those connections without a conn.offline for each, and the business server must still hear
  // that the user is gone. An endpoint that does not take conn.offline gets every user.offline.
  says: (event, takes) =>
    event.payload?.$case !== "userOffline" || event.payload.value.nodeReset || !takes("conn.offline"),
  render: ({ url, settings, items }) => {
    const event = items[0]?.event;
    const spec =
      event &&
      renderOpenImAfter(event, {
        baseUrl: url,
        urlStyle: settings.urlStyle,
        naming: settings.commandNames,
      });
    if (spec === undefined) throw new CannotSayError(`the openim dialect has no callback for ${event?.type}`);
    return spec;
  },
  template: { url: "https://" },
  before: openImBefore,
});
