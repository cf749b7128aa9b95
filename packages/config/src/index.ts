export { OPENIM_HOOK_KEYS, openImHookKey } from "./openim-hooks.js";
export type { HookKind, OpenImHookKey } from "./openim-hooks.js";
export { ConfigFileError } from "./errors.js";
export type { ConfigWarning } from "./errors.js";
export { defaultHookConfig, hookTimeoutMs } from "./hook-config.js";
export type { HookConfig } from "./hook-config.js";
export { parseOpenImWebhooks } from "./openim-webhooks.js";
export type { OpenImWebhooks } from "./openim-webhooks.js";
export { APP_ID_PATTERN, DEFAULT_BREAKER, hookConfig, validateAppConfig } from "./app-config.js";
export {
  MAX_APP_SETTING_MS,
  appSettingsOf,
  onAppSettingsChange,
  chatroomSettingsSchema,
  presenceSettingsSchema,
} from "./app-settings.js";
export type { AppSettingsBlocks, ChatroomAppSettings, PresenceAppSettings } from "./app-settings.js";
export type { AppConfig, BreakerConfig } from "./app-config.js";
export { PLAIN_WEBHOOKS_APP_ID, loadConfigFile, parseHeraldConfig } from "./herald-file.js";
export type { ConfigFileOptions } from "./herald-file.js";
export { MAX_URL_BYTES, MAX_YAML_ALIAS_COUNT, MAX_YAML_BYTES, MAX_YAML_DEPTH } from "./limits.js";
export { ID_PATTERN_TEXT } from "./schemas.js";
export { appIdSchema, entityIdSchema, eventIdSchema, operationIdSchema } from "./ids.js";
export {
  appKey,
  applyConfigFile,
  ConfigTooLargeError,
  configValueLimitBytes,
  deleteApp,
  fileStatusOfApp,
  putApp,
  readApp,
  readAppEntry,
  returnAppToFile,
} from "./store.js";
export type { ApplyResult } from "./store.js";
export { watchConfig } from "./config-view.js";
export type { ConfigView } from "./config-view.js";
export {
  DIALECTS,
  ORDERINGS,
  endpointInputSchema,
  DEFAULT_FAILING_AFTER_ATTEMPTS,
  OPERATIONAL_EVENT_PATTERN,
  eventTypeMatches,
  takesEventKind,
  validateEndpoint,
} from "./endpoint-config.js";
export type { Dialect, EndpointConfig, EndpointSecret, Ordering } from "./endpoint-config.js";
export {
  ENDPOINT_STATE_KEY_PREFIX,
  deleteEndpointState,
  endpointStateKey,
  parseEndpointStateKey,
  readEndpointState,
  validateEndpointState,
  writeEndpointState,
} from "./endpoint-state.js";
export type { EndpointState, EndpointStateEntry } from "./endpoint-state.js";
export {
  OPENIM_WEBHOOKS_ENDPOINT_ID,
  impliedEndpointCalls,
  impliedOpenImEndpoint,
} from "./implied-endpoint.js";
