import { partitionOf, readCurrent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import type { UserPresence } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import type { KV } from "@nats-io/kv";
import { presenceKeys } from "./keys.js";
import { decodeNodeState, decodeUserState, leaseExpiry, toUserPresence } from "./state.js";
import type { NodeResetReason, NodeState, UserState } from "./state.js";

export interface ListUsersQuery {
  status?: "online" | "offline";
  /** Only users with a connection on this platform (0 or absent: every platform). */
  platformId?: number;
  pageSize: number;
  /** The nextPageToken of the previous page. */
  pageToken?: string;
}

const MAX_PAGE_SIZE = 1000;

async function readUserState(kv: KV, key: string): Promise<UserState | undefined> {
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  return decodeUserState(entry.value);
}

/** The presence of one user, or undefined when no event about them was ever folded. */
export async function getUserPresence(
  bus: Bus,
  appId: string,
  userId: string,
): Promise<UserPresence | undefined> {
  const kv = await bus.kv(bus.names.buckets.presence);
  const partition = partitionOf(appId, userId, bus.layout.partitions);
  const state = await readUserState(kv, presenceKeys.user(partition, appId, userId));
  return state === undefined ? undefined : toUserPresence(state);
}

/**
 * Users of an app in the order of their encoded ids, filtered by status and platform. The page
 * token is the encoded id of the last user looked at; "" means there is no next page.
 */
export async function listUsers(
  bus: Bus,
  appId: string,
  q: ListUsersQuery,
): Promise<{ users: UserPresence[]; nextPageToken: string }> {
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > MAX_PAGE_SIZE) {
    throw new ValidationError(`pageSize must be 1-${MAX_PAGE_SIZE}, got ${q.pageSize}`, {
      field: "pageSize",
    });
  }
  const after = q.pageToken ?? "";
  if (!/^[A-Za-z0-9_=-]*$/.test(after)) {
    throw new ValidationError("pageToken is not one this server gave", { field: "pageToken" });
  }
  // Users of every partition with their states (one ordered consumer), in one order by encoded id.
  const found = new Map<string, Uint8Array>();
  for await (const e of readCurrent(bus, bus.names.buckets.presence, presenceKeys.users(appId))) {
    const token = e.key.slice(e.key.lastIndexOf(".") + 1);
    if (token > after) found.set(token, e.value);
  }
  const tokens = [...found.keys()].sort();
  const users: UserPresence[] = [];
  let last = "";
  for (const token of tokens) {
    if (users.length >= q.pageSize) return { users, nextPageToken: last };
    last = token;
    const state = decodeUserState(found.get(token) as Uint8Array);
    if (q.status !== undefined && state.status !== q.status) continue;
    const platform = q.platformId ?? 0;
    if (platform !== 0 && !Object.values(state.connections).some((c) => c.platformId === platform)) continue;
    users.push(toUserPresence(state));
  }
  return { users, nextPageToken: "" };
}

/** What a query shows of one chat-core node. Times are stored times, milliseconds since the epoch. */
export interface NodeView {
  appId: string;
  nodeId: string;
  /**
   * leased: heartbeats hold a lease; expired: its lease ran out and its connections were reset;
   * reset: the chat core reported its reset (no heartbeat since); unleased: it never sent a heartbeat,
   * so it is never reset on silence.
   */
  status: "leased" | "expired" | "reset" | "unleased";
  /** The last heartbeat since the last reset, if any. */
  lastHeartbeatAt?: number;
  /** The lease that heartbeat gave (0: none). */
  leaseMs: number;
  /** When the lease runs out: last heartbeat + lease + the app's margin. */
  leaseExpiresAt?: number;
  resetAt?: number;
  resetReason?: NodeResetReason;
  /** Connections the app's users hold on the node now (grace-held ones included). */
  connections: number;
}

/**
 * Every chat-core node of an app that Herald knows of, by node id: the nodes that sent a heartbeat or
 * a reset, and the nodes that users hold connections on.
 */
export async function listNodes(bus: Bus, appId: string): Promise<NodeView[]> {
  const bucket = bus.names.buckets.presence;
  const counts = new Map<string, number>();
  for await (const e of readCurrent(bus, bucket, presenceKeys.nodeCounts(appId))) {
    const nodeId = presenceKeys.lastId(e.key);
    const n = Number(new TextDecoder().decode(e.value));
    if (Number.isFinite(n)) counts.set(nodeId, (counts.get(nodeId) ?? 0) + n);
  }
  const views = new Map<string, NodeView>();
  for await (const e of readCurrent(bus, bucket, presenceKeys.nodes(appId))) {
    const state = decodeNodeState(e.value);
    views.set(state.nodeId, nodeView(state, counts.get(state.nodeId) ?? 0));
  }
  for (const [nodeId, connections] of counts) {
    if (!views.has(nodeId) && connections > 0) {
      views.set(nodeId, { appId, nodeId, status: "unleased", leaseMs: 0, connections });
    }
  }
  return [...views.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

function nodeView(state: NodeState, connections: number): NodeView {
  const expiresAt = leaseExpiry(state);
  const status: NodeView["status"] =
    expiresAt !== undefined
      ? "leased"
      : state.resetReason === "lease_expired"
        ? "expired"
        : state.resetReason === "reported"
          ? "reset"
          : "unleased";
  return {
    appId: state.appId,
    nodeId: state.nodeId,
    status,
    leaseMs: state.leaseMs,
    connections,
    ...(state.heartbeatAt > 0 ? { lastHeartbeatAt: state.heartbeatAt } : {}),
    ...(expiresAt === undefined ? {} : { leaseExpiresAt: expiresAt }),
    ...(state.resetAt === undefined ? {} : { resetAt: state.resetAt }),
    ...(state.resetReason === undefined ? {} : { resetReason: state.resetReason }),
  };
}
