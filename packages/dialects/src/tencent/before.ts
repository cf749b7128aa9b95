import { z } from "zod";
import { MINUTE_MS, SECOND_MS, type BeforeHook, type BeforeOutcome, type DialectBefore } from "../dialect.js";
import { isJsonObject, type JsonObject } from "../types.js";
import { mapping } from "../zod-text.js";
import { completeHookPolicy, failedActionConflict, hookPolicyFields } from "../hook-policy.js";
import { hookProviderSchema } from "../hook-provider.js";
import { TENCENT_AFTER_COMMANDS } from "./after.js";
import { TENCENT_PLATFORMS } from "./platform.js";
import { excerpt, readTencentAnswer } from "./response.js";
import { callbackUrlSchema, sdkAppIdSchema, tokenSchema } from "./settings.js";
import { tencentUrl } from "./sign.js";

export interface TencentHook extends BeforeHook {
  /** What the sender's client is told for ErrorCode 1 (Tencent's "blocked by the callback" codes). */
  readonly denyCode: number;
}

const hook = (key: string, kind: "before" | "after", denyCode = 0): TencentHook =>
  Object.freeze({ key, kind, subjectToken: `tencent_${key.replaceAll(".", "_")}`, denyCode });

/** The before-callbacks Herald asks through, and the after-commands it sends as events (refused in Before). */
export const TENCENT_HOOKS: readonly TencentHook[] = Object.freeze([
  hook("C2C.CallbackBeforeSendMsg", "before", 20006),
  hook("Group.CallbackBeforeSendMsg", "before", 10016),
  ...Object.values(TENCENT_AFTER_COMMANDS).map((command) => hook(command, "after")),
]);

const BY_COMMAND: ReadonlyMap<string, TencentHook> = new Map(TENCENT_HOOKS.map((h) => [h.key, h]));

// Tencent's message before-callbacks time out after 2 s (not adjustable) and then deliver the message.
export const TENCENT_BEFORE_TIMEOUT_MS = 2 * SECOND_MS;

// Tencent's after-callbacks go to explicit endpoints with their own commands: nothing delivers a
// before-callback's body to the app's `tencent.url`, so a Tencent hook is always asked in the request path.
const ASYNC_REFUSAL =
  "async is not available for Tencent hooks: Herald delivers no Tencent before-callback in the background; " +
  "remove async, or set failedAction: continue with a short timeoutMs";

const timeoutError = `expected an integer of milliseconds, 1 to ${MINUTE_MS}`;
const timeoutMsSchema = z
  .int({ error: timeoutError })
  .min(1, { error: timeoutError })
  .max(MINUTE_MS, { error: timeoutError });

const hookSettingsSchema = z
  .strictObject(
    {
      enable: z.boolean({ error: "expected true or false" }).default(false),
      timeoutMs: timeoutMsSchema.default(TENCENT_BEFORE_TIMEOUT_MS),
      // No default here: a default would disagree with a failedAction of deny or drop given alone.
      failedContinue: z.boolean({ error: "expected true or false" }).nullish(),
      ...hookPolicyFields(true, ASYNC_REFUSAL),
    },
    mapping,
  )
  .superRefine((settings, ctx) => {
    const conflict = failedActionConflict(settings);
    if (conflict !== undefined) ctx.addIssue({ code: "custom", message: conflict, path: ["failedAction"] });
  })
  .transform(({ failedContinue, ...settings }) => ({
    ...settings,
    failedContinue: failedContinue ?? (settings.failedAction == null || settings.failedAction === "continue"),
  }));

/** An app's `tencent` block: where and as which SDKAppID its before-callbacks are sent, and which are on. */
export const tencentAppSchema = z.strictObject(
  {
    url: callbackUrlSchema,
    sdkAppId: sdkAppIdSchema,
    token: tokenSchema.optional(),
    // Asks the before-hooks over gRPC instead of at url.
    provider: hookProviderSchema.optional(),
    hooks: z
      .strictObject(
        Object.fromEntries(
          TENCENT_HOOKS.filter((h) => h.kind === "before").map((h) => [h.key, hookSettingsSchema.optional()]),
        ),
        mapping,
      )
      .default({}),
  },
  mapping,
);

export type TencentAppBlock = z.output<typeof tencentAppSchema>;

const FIRST_PASSED_CODE = 120_001;
const LAST_PASSED_CODE = 130_000;
const PLATFORMS: ReadonlySet<string> = new Set(TENCENT_PLATFORMS);

/**
 * Tencent's C2C / Group.CallbackBeforeSendMsg. The chat core's payload is Tencent's body; its ClientIP and
 * OptPlatform, when it gives them, go to the URL as Tencent sends them. ErrorCode 0 allows (with MsgBody
 * and/or CloudCustomData: modifies), 1 denies, 2 drops silently, 120001-130000 deny passing the code and
 * ErrorInfo to the sender; any other code is a failed callback, and the hook's policy decides.
 */
export const tencentBefore: DialectBefore<"tencent", TencentAppBlock, TencentHook> = {
  appKey: "tencent",
  canDrop: true,
  appSchema: tencentAppSchema,
  findHook: (command) => BY_COMMAND.get(command),
  hookSettings: (block, h) => {
    const settings = (block.hooks as Record<string, z.output<typeof hookSettingsSchema> | undefined>)[h.key];
    return (
      settings && {
        enable: settings.enable,
        timeoutMs: settings.timeoutMs,
        policy: completeHookPolicy(settings),
      }
    );
  },
  providerOf: (block) => block.provider,
  render: (block, h, { payload, now }) => {
    const { ClientIP: clientIp, OptPlatform: platform, ...rest } = payload;
    const body: JsonObject = { CallbackCommand: h.key, ...rest };
    body["CallbackCommand"] = h.key;
    return {
      method: "POST",
      url: tencentUrl(block.url, {
        sdkAppId: block.sdkAppId,
        command: h.key,
        clientIp: typeof clientIp === "string" ? clientIp : "",
        optPlatform: typeof platform === "string" && PLATFORMS.has(platform) ? platform : "Unknown",
        token: block.token,
        requestTimeSeconds: Math.floor(now.getTime() / 1000),
      }),
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    };
  },
  interpret: (h, request, response): BeforeOutcome => {
    if (response.status < 200 || response.status > 299) {
      const detail = `HTTP ${response.status}: ${excerpt(response.body)}`;
      return { kind: "failed", failure: { reason: "status", status: response.status, detail } };
    }
    const answer = readTencentAnswer(response.body);
    if (typeof answer === "string") return { kind: "failed", failure: { reason: "body", detail: answer } };
    const { errorCode, errorInfo } = answer;
    if (errorCode === 0) return modification(request, answer.body);
    if (errorCode === 1) return { kind: "deny", errCode: h.denyCode, errMsg: errorInfo, errDlt: "" };
    if (errorCode === 2) return { kind: "drop" };
    if (errorCode >= FIRST_PASSED_CODE && errorCode <= LAST_PASSED_CODE) {
      return { kind: "deny", errCode: errorCode, errMsg: errorInfo, errDlt: "" };
    }
    const detail = `ErrorCode ${errorCode}: ${errorInfo}`;
    return { kind: "failed", failure: { reason: "action", actionCode: errorCode, detail } };
  },
};

// ErrorCode 0 with MsgBody (a list of message elements) and/or CloudCustomData (a string) replaces them.
function modification(request: JsonObject, answer: JsonObject): BeforeOutcome {
  const changes: JsonObject = {};
  const msgBody = answer["MsgBody"];
  if (msgBody !== undefined && msgBody !== null) {
    if (!Array.isArray(msgBody) || !msgBody.every(isJsonObject)) {
      return {
        kind: "failed",
        failure: { reason: "body", detail: "MsgBody must be a list of message elements" },
      };
    }
    changes["MsgBody"] = msgBody;
  }
  const custom = answer["CloudCustomData"];
  if (custom !== undefined && custom !== null) {
    if (typeof custom !== "string") {
      const detail = `CloudCustomData must be a string, got ${JSON.stringify(custom)}`;
      return { kind: "failed", failure: { reason: "body", detail } };
    }
    changes["CloudCustomData"] = custom;
  }
  const changed = Object.entries(changes).some(
    ([key, value]) => JSON.stringify(request[key]) !== JSON.stringify(value),
  );
  return changed ? { kind: "modify", payload: { ...request, ...changes } } : { kind: "continue" };
}
