export {
  foldPresence,
  expireGrace,
  derivedEventId,
  isDerivedEventId,
  presenceUserId,
  TOMBSTONE_TTL_MS,
} from "./fold.js";
export type { FoldOptions, FoldResult, PresenceAnomaly } from "./fold.js";
export { emptyUserState, toUserPresence, graceDue } from "./state.js";
export type { ConnectionState, CauseRef, Outbox, Tombstone, UserState } from "./state.js";
export { presenceKeys } from "./keys.js";
export { PresenceConflictError, readUserState } from "./store.js";
export { createPresenceProcessor } from "./processor.js";
export type { PresenceHooks, PresenceProcessor, PresenceProcessorOptions } from "./processor.js";
export { presenceDurables, startPresence } from "./engine.js";
export type { PresenceEngine, PresenceEngineOptions } from "./engine.js";
export { getUserPresence, listUsers } from "./queries.js";
export type { ListUsersQuery } from "./queries.js";
export { presenceSubjects, rebuildPresence } from "./rebuild.js";
export type { RebuildOptions, RebuildReport } from "./rebuild.js";
