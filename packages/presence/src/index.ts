export {
  foldPresence,
  expireGrace,
  derivedEventId,
  isDerivedEventId,
  presenceUserId,
  TOMBSTONE_TTL_MS,
} from "./fold.js";
export type { FoldOptions, FoldResult, PresenceAnomaly } from "./fold.js";
export { emptyUserState, decodeUserState, toUserPresence, graceDue } from "./state.js";
export type { ConnectionState, CauseRef, Tombstone, UserState } from "./state.js";
export { presenceKeys } from "./keys.js";
export { PRESENCE_PROJECTION, presenceProjection } from "./projection.js";
export type { PresenceHooks, PresenceProjectionOptions } from "./projection.js";
export { startPresence } from "./engine.js";
export type { PresenceEngineOptions } from "./engine.js";
export { getUserPresence, listUsers } from "./queries.js";
export type { ListUsersQuery } from "./queries.js";
export { rebuildPresence } from "./rebuild.js";
export type { RebuildOptions } from "./rebuild.js";
