export type { HttpRequestSpec, JsonObject } from "./types.js";
export { deliveryIdHeader, headerId } from "./header-id.js";
export { OPENIM_HOOKS, findOpenImHook, openImCommand, openImHookByKey } from "./openim/hooks.js";
export type { HookKind, OpenImHook, CommandNaming } from "./openim/hooks.js";
export { renderOpenImBefore, interpretOpenImBefore } from "./openim/before.js";
export type { UrlStyle, OpenImBeforeInput } from "./openim/before.js";
export { openImHookTimeoutMs } from "./openim/before-hooks.js";
export type { OpenImAppBlock, OpenImHookSettings } from "./openim/before-hooks.js";
export { HERALD_CALLBACK_ERRORS, decideFailure } from "./openim/failure.js";
export { failedAnswer, outcomeAnswer, plainAnswer } from "./before-answer.js";
export type { BeforeAnswer } from "./before-answer.js";
export {
  DEFAULT_HOOK_POLICY,
  FAILED_ACTIONS,
  HOOK_POLICY_KEYS,
  MAX_HOOK_RETRIES,
  completeHookPolicy,
  failedActionConflict,
  hookPolicyFields,
} from "./hook-policy.js";
export { MAX_PROVIDER_TARGETS, hookProviderSchema, parseGrpcTarget } from "./hook-provider.js";
export type { GrpcTarget, HookProvider } from "./hook-provider.js";
export type { FailedAction, HookPolicy, HookPolicyInput, RetryChoice } from "./hook-policy.js";
export type { CallbackFailure, FailureDecision } from "./openim/failure.js";
export { OPENIM_BEFORE_MODIFICATIONS } from "./openim/modifications.js";
export type { ModificationRule, ModifiedFieldType } from "./openim/modifications.js";
export { openImHookFires } from "./openim/filter.js";
export type { TypeFilter, HookFiring } from "./openim/filter.js";
export { MissingOccurredAtError } from "./openim/presence-event.js";
export { renderOpenImPresence } from "./openim/presence.js";
export type { OpenImPresenceOptions } from "./openim/presence.js";
export { renderMqttChatPresence } from "./mqttchat/presence.js";
export { rongCloudPresenceRecord } from "./rongcloud/presence.js";
export type { RongCloudPresenceRecord } from "./rongcloud/presence.js";
export { renderRongCloudChatroomBatch, rongCloudChatroomRecord } from "./rongcloud/chatroom.js";
export type { RongCloudChatroomRecord } from "./rongcloud/chatroom.js";
export { renderOpenImAfter } from "./openim/after.js";
export type { OpenImAfterOptions } from "./openim/after.js";
export { InvalidPassthroughPayloadError, parsePassthroughPayload } from "./openim/passthrough.js";
export { renderMqttChatMessage } from "./mqttchat/message.js";
export { rongCloudSignature, rongCloudSignedUrl } from "./rongcloud/signature.js";
export type { RongCloudSignatureOptions } from "./rongcloud/signature.js";
export { renderStandardWebhook, standardWebhookData } from "./standard/render.js";
export type { StandardWebhookInput } from "./standard/render.js";
export { decodeWebhookSecret, signStandardWebhook } from "./standard/sign.js";
export { InvalidWebhookHeaderError, InvalidWebhookSecretError } from "./standard/errors.js";
export { CannotSayError, DAY_MS, HOUR_MS, MINUTE_MS, ORDERINGS, SECOND_MS, statusIn } from "./dialect.js";
export type {
  AppSettings,
  BeforeHook,
  BeforeHookSettings,
  BeforeOutcome,
  DialectBefore,
  CallbackResponse,
  DialectDefaults,
  DialectDefinition,
  DialectSettings,
  DisableRules,
  Ordering,
  RenderInput,
  RenderItem,
  StatusRange,
} from "./dialect.js";
export {
  BEFORE_DIALECTS,
  DIALECTS,
  DIALECT_DEFINITIONS,
  DIALECT_REGISTRY,
  DIALECT_SETTINGS_KEYS,
  beforeBlockOf,
  dialectOf,
  findBeforeHook,
} from "./registry.js";
export type { Dialect, DialectAppBlocks, DialectSettingsBlocks, FoundBeforeHook } from "./registry.js";
export { openImCommandNamesSchema, openImUrlStyleSchema } from "./openim/dialect.js";
export type { OpenImEndpointSettings } from "./openim/dialect.js";
export type { RongCloudEndpointSettings } from "./rongcloud/dialect.js";
export { renderOpenImConnection } from "./openim/presence.js";
export { MAX_URL_BYTES, httpUrlSchema, mapping, nonEmptyText, typeError } from "./zod-text.js";
export { dialectTable, humanDuration } from "./doc-table.js";
