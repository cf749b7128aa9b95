export { foldRoom, membershipChange, roomChange, roomDerivedId, ROOM_KIND, ROOM_STATUS } from "./fold.js";
export type { MembershipChange, RoomChange, RoomFold, RoomRejectReason } from "./fold.js";
export { emptyRoomMeta, decodeRoomMeta } from "./state.js";
export type { RoomMeta, RoomState } from "./state.js";
export { roomKeys } from "./keys.js";
export {
  idleDestroyEvent,
  fixedChatroomTimers,
  kickDue,
  kickEvent,
  kickTimerFor,
  decodeKickTimer,
  TIMERS_OFF,
} from "./timers.js";
export type { ChatroomTimers, ChatroomTimersOf, KickTimer } from "./timers.js";
export { ROOMS_PROJECTION, roomsProjection } from "./rooms.js";
export type { ChatroomHooks, RoomsProjectionOptions } from "./rooms.js";
export { KICKS_PROJECTION, kicksProjection } from "./kicks.js";
export type { KicksProjectionOptions } from "./kicks.js";
export { startChatroom } from "./engine.js";
export type { ChatroomEngine, ChatroomEngineOptions } from "./engine.js";
export { getRoom, listRoomMembers, listRooms, listUserRooms, MAX_MEMBERS_PAGE } from "./queries.js";
export type { ListRoomMembersQuery, ListRoomsQuery } from "./queries.js";
export { rebuildChatroom } from "./rebuild.js";
export type { ChatroomRebuildOptions, ChatroomRebuildReport } from "./rebuild.js";
