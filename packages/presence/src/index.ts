export {
  foldPresence,
  expireGrace,
  derivedEventId,
  isDerivedEventId,
  presenceUserId,
  TOMBSTONE_TTL_MS,
} from "./fold.js";
export type { FoldOptions, FoldResult, PresenceAnomaly } from "./fold.js";
export {
  emptyUserState,
  emptyNodeState,
  decodeUserState,
  isNodeState,
  leaseExpiry,
  toUserPresence,
  graceDue,
} from "./state.js";
export type {
  ConnectionState,
  CauseRef,
  NodeResetReason,
  NodeState,
  PresenceState,
  Tombstone,
  UserState,
} from "./state.js";
export { presenceKeys } from "./keys.js";
export { PRESENCE_PROJECTION, presenceProjection } from "./projection.js";
export type { PresenceHooks, PresenceProjectionOptions } from "./projection.js";
export { startPresence } from "./engine.js";
export type { PresenceEngineOptions } from "./engine.js";
export { getUserPresence, listNodes, listUsers } from "./queries.js";
export type { ListUsersQuery, NodeView } from "./queries.js";
export { rebuildPresence } from "./rebuild.js";
export type { RebuildOptions } from "./rebuild.js";
export { DEFAULT_PRESENCE_SETTINGS, fixedPresenceSettings } from "./settings.js";
export type { PresenceSettings, PresenceSettingsOf } from "./settings.js";
