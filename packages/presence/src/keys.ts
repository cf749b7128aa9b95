// Keys of the PRESENCE bucket. Every id is encoded into one KV token, so '.' always separates parts.

import { decodeKeyToken, encodeKeyToken } from "@herald/bus";

/** The layout of the PRESENCE bucket (the projection kit keeps its own lease., ckpt. and member. keys there). */
export const presenceKeys = {
  /** u.<partition>.<app>.<user>: the UserState of one user, in the partition of the user. */
  user: (partition: number, appId: string, userId: string): string =>
    `u.${partition}.${encodeKeyToken(appId)}.${encodeKeyToken(userId)}`,
  /** Every user key of an app, in any partition. */
  users: (appId: string): string => `u.*.${encodeKeyToken(appId)}.*`,
  /** Every user key of a partition. */
  partition: (partition: number): string => `u.${partition}.>`,
  /** The last token of a key, decoded (the user id of a u. key). */
  lastId: (key: string): string => decodeKeyToken(key.slice(key.lastIndexOf(".") + 1)),
};
