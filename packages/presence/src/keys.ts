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
  /** n.<partition>.<app>.<node>: the NodeState (heartbeat and lease) of one chat-core node, in the node's partition. */
  node: (partition: number, appId: string, nodeId: string): string =>
    `n.${partition}.${encodeKeyToken(appId)}.${encodeKeyToken(nodeId)}`,
  /** Whether a key is a node's (n.), not a user's. */
  isNode: (key: string): boolean => key.startsWith("n."),
  /** Every node key of an app, in any partition. */
  nodes: (appId: string): string => `n.*.${encodeKeyToken(appId)}.*`,
  /** Every node key of a partition. */
  nodePartition: (partition: number): string => `n.${partition}.>`,
  /**
   * nc.<partition>.<app>.<node>: how many connections the partition's users hold on the node (a
   * decimal; absent: none). A side key, derived from the user states, summed over partitions by queries.
   */
  nodeCount: (partition: number, appId: string, nodeId: string): string =>
    `nc.${partition}.${encodeKeyToken(appId)}.${encodeKeyToken(nodeId)}`,
  /** Every node count of an app, in any partition. */
  nodeCounts: (appId: string): string => `nc.*.${encodeKeyToken(appId)}.*`,
  /** Every node count of a partition. */
  nodeCountPartition: (partition: number): string => `nc.${partition}.>`,
  /** The last token of a key, decoded (the user id of a u. key, the node id of an n. or nc. key). */
  lastId: (key: string): string => decodeKeyToken(key.slice(key.lastIndexOf(".") + 1)),
};
