export { SignatureError, PayloadError, type SignatureFailure } from "./errors.js";
export type { IncomingHeaders } from "./headers.js";
export { decodeHeaderId, heraldDeliveryIds, HERALD_DELIVERY_ID_HEADER } from "./header-ids.js";
export { verifyStandardWebhook, type VerifyStandardWebhookInput } from "./standard-webhooks.js";
export { verifyRongCloud, type VerifyRongCloudInput } from "./rongcloud.js";
export {
  verifyTencent,
  parseTencent,
  type VerifyTencentInput,
  type TencentCallbackQuery,
  type TencentCallback,
  type TencentStateChange,
  type TencentC2CMessage,
  type TencentGroupMessage,
  type TencentMemberJoin,
  type TencentMemberExit,
} from "./tencent.js";
export {
  parseStandardWebhook,
  parseMqttChat,
  parseRongCloudChatroomBatch,
  parseOpenIm,
  type StandardWebhookPayload,
  type MqttChatPresence,
  type MqttChatMessage,
  type MqttChatCallback,
  type RongCloudChatroomRecord,
  type OpenImCallback,
  type ParseOpenImInput,
} from "./payloads.js";
export {
  serveHookProvider,
  openImAnswer,
  type HookProviderAnswer,
  type HookProviderCall,
  type HookProviderServer,
  type OpenImAnswerFields,
  type ServeHookProviderOptions,
} from "./hook-provider.js";
