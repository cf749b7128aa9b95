import { COMMON_DEFAULTS, CannotSayError, SECOND_MS, defineDialect } from "../dialect.js";
import { tencentAfterCallback, tencentSays } from "./after.js";
import { tencentBefore } from "./before.js";
import { readTencentAnswer } from "./response.js";
import { tencentEndpointSchema, type TencentEndpointSettings } from "./settings.js";
import { tencentUrl } from "./sign.js";

/**
 * Tencent Cloud IM's callbacks (reference §2): one JSON body per request to the URL with SdkAppid,
 * CallbackCommand, contenttype, ClientIP and OptPlatform in the query, signed (Sign = sha256 of
 * token + RequestTime) when a token is set. State.StateChange per connection login and logout,
 * C2C / Group.CallbackAfterSendMsg per message, Group.CallbackAfterNewMemberJoin / AfterMemberExit per
 * room change. An after-callback's 200 answer with ErrorCode != 0 (or ActionStatus FAIL) is a failure.
 */
export const tencent = defineDialect({
  name: "tencent",
  title: "Tencent Cloud IM",
  summary:
    "Tencent's callback bodies (`State.StateChange`, `C2C`/`Group.CallbackAfterSendMsg`, group member join/exit), one per request, `SdkAppid` and `CallbackCommand` in the query",
  signing: "query `Sign = hex(sha256(token + RequestTime))` when a token is set; unsigned without",
  settings: {
    key: "tencent",
    schema: tencentEndpointSchema,
    required: "required for dialect tencent: sdkAppId (and token, when callback authentication is on)",
    secretFields: ["token"],
    complete: (given): TencentEndpointSettings => {
      const { sdkAppId, token } = given as TencentEndpointSettings;
      return token === undefined ? { sdkAppId } : { sdkAppId, token };
    },
  },
  signsWithSecrets: false,
  defaults: {
    eventTypes: ["conn.online", "conn.offline", "msg.sent", "room.status"],
    timeoutMs: COMMON_DEFAULTS.timeoutMs,
    // Tencent documents no retries for its callbacks, so receivers written for it expect each once: a few
    // quick retries get past a restart or a blip, while a state change hours late would mislead more than inform.
    retry: { scheduleMs: [SECOND_MS, 5 * SECOND_MS, 30 * SECOND_MS], jitter: 0.1 },
    concurrency: COMMON_DEFAULTS.concurrency,
    ordering: "key",
    batch: COMMON_DEFAULTS.oneRecord,
    pauseOnTimeouts: COMMON_DEFAULTS.pauseOnTimeouts,
    disableOn: COMMON_DEFAULTS.neverDisable,
    disableAfterFailingMs: 0,
  },
  maxBatchRecords: 1,
  renders: ["conn.online", "conn.offline", "msg.sent", "room.status"],
  // A room's creation and destruction have no Tencent member callback.
  says: tencentSays,
  render: ({ url, settings, items, now }) => {
    const event = items[0]?.event;
    const callback = event && tencentAfterCallback(event);
    if (callback === undefined)
      throw new CannotSayError(`the tencent dialect has no callback for ${event?.type}`);
    return {
      method: "POST",
      url: tencentUrl(url, {
        sdkAppId: settings.sdkAppId,
        command: callback.command,
        clientIp: callback.clientIp,
        optPlatform: callback.optPlatform,
        token: settings.token,
        requestTimeSeconds: Math.floor(now.getTime() / 1000),
      }),
      headers: { "content-type": "application/json" },
      body: JSON.stringify(callback.body),
    };
  },
  // Tencent ignores an after-callback's answer; Herald reads an explicit refusal as a failure to retry.
  // A 200 that is not JSON (an empty body is the commonest quick ack) is taken as delivered.
  refusal: ({ body }) => {
    const answer = readTencentAnswer(body);
    if (typeof answer === "string") return undefined;
    if (answer.errorCode === 0 && answer.actionStatus !== "FAIL") return undefined;
    return `ErrorCode ${answer.errorCode}${answer.actionStatus === "" ? "" : ` (${answer.actionStatus})`}: ${answer.errorInfo}`;
  },
  template: { url: "https://", tencent: { sdkAppId: "" } },
  before: tencentBefore,
});
