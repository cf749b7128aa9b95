// Keys of the PRESENCE bucket. Every id is encoded into one KV token, so '.' always separates parts.

import { decodeKeyToken, encodeKeyToken } from "@herald/bus";

/** The layout of the PRESENCE bucket. */
export const presenceKeys = {
  /** u.<app>.<user>: the UserState of one user. */
  user: (appId: string, userId: string): string => `u.${encodeKeyToken(appId)}.${encodeKeyToken(userId)}`,
  /** Every user key of an app. */
  users: (appId: string): string => `u.${encodeKeyToken(appId)}.*`,
  /** n.<app>.<node>.<user>: the user may hold a connection on that node (an index for node.reset). */
  nodeUser: (appId: string, nodeId: string, userId: string): string =>
    `n.${encodeKeyToken(appId)}.${encodeKeyToken(nodeId)}.${encodeKeyToken(userId)}`,
  /** Every index key of a node. */
  nodeUsers: (appId: string, nodeId: string): string =>
    `n.${encodeKeyToken(appId)}.${encodeKeyToken(nodeId)}.*`,
  /** r.<app>.<node>: the stream sequence of the node's latest reset. */
  nodeReset: (appId: string, nodeId: string): string =>
    `r.${encodeKeyToken(appId)}.${encodeKeyToken(nodeId)}`,
  /** g.<app>.<user>: the user has a connection held by the grace period; the value is when it ends. */
  grace: (appId: string, userId: string): string => `g.${encodeKeyToken(appId)}.${encodeKeyToken(userId)}`,
  /** Every grace key. */
  allGrace: (): string => "g.>",
  /** The last token of a key, decoded (the user id of u., n. and g. keys). */
  lastId: (key: string): string => decodeKeyToken(key.slice(key.lastIndexOf(".") + 1)),
  /** The app id of any key. */
  appId: (key: string): string => decodeKeyToken(key.split(".")[1] ?? ""),
};
