// Keys of the ROOMS bucket. Every id is one encoded KV token, so '.' always separates parts.

import { decodeKeyToken, encodeKeyToken } from "@herald/bus";

const t = encodeKeyToken;

/**
 * The layout of the ROOMS bucket (the projection kit keeps its lease., ckpt. and member. keys of
 * "rooms" and "kicks" there too). A room's keys carry the partition of the room, a kick the
 * partition of the user; the user->room index has none, since a user's rooms are in any partition.
 */
export const roomKeys = {
  /** r.<p>.<app>.<room>: the RoomMeta of one room, the state of the rooms projection. */
  room: (partition: number, appId: string, roomId: string): string =>
    `r.${partition}.${t(appId)}.${t(roomId)}`,
  /** Every room key of an app, in any partition. */
  appRooms: (appId: string): string => `r.*.${t(appId)}.*`,
  /** Every room key of a partition. */
  rooms: (partition: number): string => `r.${partition}.>`,
  /** m.<p>.<app>.<room>.<user>: one membership; the value is when the user joined (ms). */
  member: (partition: number, appId: string, roomId: string, userId: string): string =>
    `m.${partition}.${t(appId)}.${t(roomId)}.${t(userId)}`,
  /** Every membership of a room. */
  members: (partition: number, appId: string, roomId: string): string =>
    `m.${partition}.${t(appId)}.${t(roomId)}.*`,
  /** Every membership of a partition. */
  partitionMembers: (partition: number): string => `m.${partition}.>`,
  /** The room key a membership key belongs to. */
  roomOfMember: (memberKey: string): string => `r.${memberKey.split(".").slice(1, 4).join(".")}`,
  /** u.<app>.<user>.<room>: the user is in the room since the value (ms); the index of ListUserRooms and of auto-kick. */
  userRoom: (appId: string, userId: string, roomId: string): string =>
    `u.${t(appId)}.${t(userId)}.${t(roomId)}`,
  /** Every room of a user. */
  userRooms: (appId: string, userId: string): string => `u.${t(appId)}.${t(userId)}.*`,
  /** k.<p>.<app>.<user>: the user's pending auto-kick (a KickTimer), the state of the kicks projection. */
  kick: (partition: number, appId: string, userId: string): string =>
    `k.${partition}.${t(appId)}.${t(userId)}`,
  /** Every kick key of a partition. */
  kicks: (partition: number): string => `k.${partition}.>`,
  /** The last token of a key, decoded. */
  lastId: (key: string): string => decodeKeyToken(key.slice(key.lastIndexOf(".") + 1)),
};
