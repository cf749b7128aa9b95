// Keys of the ROOMS bucket. Every id is one encoded KV token, so '.' always separates parts.

import { decodeKeyToken, encodeKeyToken } from "@herald/bus";

const t = encodeKeyToken;

/** The layout of the ROOMS bucket. */
export const roomKeys = {
  /** r.<app>.<room>: the RoomMeta of one room (created time, member count, last activity, applied seqs). */
  room: (appId: string, roomId: string): string => `r.${t(appId)}.${t(roomId)}`,
  /** m.<app>.<room>.<user>: one membership; the value is when the user joined (ms). */
  member: (appId: string, roomId: string, userId: string): string =>
    `m.${t(appId)}.${t(roomId)}.${t(userId)}`,
  /** Every membership of a room. */
  members: (appId: string, roomId: string): string => `m.${t(appId)}.${t(roomId)}.*`,
  /** u.<app>.<user>.<room>: the user is in the room (the index of ListUserRooms). */
  userRoom: (appId: string, userId: string, roomId: string): string =>
    `u.${t(appId)}.${t(userId)}.${t(roomId)}`,
  /** Every room of a user. */
  userRooms: (appId: string, userId: string): string => `u.${t(appId)}.${t(userId)}.*`,
  /** k.<app>.<user>: the user's pending auto-kick (a KickTimer). */
  kick: (appId: string, userId: string): string => `k.${t(appId)}.${t(userId)}`,
  /** d.<app>.<room>: the room's pending auto-destroy (an IdleTimer). */
  idle: (appId: string, roomId: string): string => `d.${t(appId)}.${t(roomId)}`,
  allKicks: (): string => "k.>",
  allIdle: (): string => "d.>",
  /** The last token of a key, decoded. */
  lastId: (key: string): string => decodeKeyToken(key.slice(key.lastIndexOf(".") + 1)),
  /** The decoded token at `index` (0 is the key's kind). */
  idAt: (key: string, index: number): string => decodeKeyToken(key.split(".")[index] ?? ""),
};
