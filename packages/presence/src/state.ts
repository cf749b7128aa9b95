import { UserPresence, UserStatus } from "@herald/proto";
import type { OfflineReason } from "@herald/proto";
import { presenceKeys } from "./keys.js";

/** What caused a change, carried into the derived event. */
export interface CauseRef {
  eventId: string;
  operationId: string;
  /** Milliseconds since the epoch. */
  occurredAt: number;
}

/** One connection (device) of a user, as the last event applied to it left it. */
export interface ConnectionState {
  platformId: number;
  platform: string;
  isAppBackground: boolean;
  nodeId: string;
  clientIp: string;
  /** Milliseconds since the epoch. */
  since: number;
  /** Stream sequence of the last event applied to this connection (last writer wins). */
  lastSeq: number;
  /** Set while an abnormal disconnect is held by the grace period: when it becomes an offline. */
  graceUntil?: number;
  /** When the hold began (the disconnect's stored time), so a changed grace period can move its end. */
  graceFrom?: number;
  graceCause?: CauseRef & { reason: OfflineReason };
}

/** A removed connection, remembered for a while so a late, older event cannot bring it back. */
export interface Tombstone {
  seq: number;
  /** When it was removed (fold time), for pruning. */
  at: number;
  /** Set when an offline came before any online of the connection: the cause of that offline. */
  early?: CauseRef & { reason: OfflineReason };
}

/** The state of one (app, user), stored as JSON under u.<partition>.<app>.<user>. */
export interface UserState {
  appId: string;
  userId: string;
  status: "online" | "offline";
  /** Increases by one with every derived event (status and background changes). */
  seq: number;
  /** When the status last changed, milliseconds since the epoch. */
  since: number;
  connections: Record<string, ConnectionState>;
  tombstones: Record<string, Tombstone>;
}

export function emptyUserState(appId: string, userId: string): UserState {
  return {
    appId,
    userId,
    status: "offline",
    seq: 0,
    since: 0,
    connections: {},
    tombstones: {},
  };
}

export function decodeUserState(data: Uint8Array): UserState {
  // States written before the projection kit carried an outbox of their own: no longer needed.
  const { outbox: _outbox, ...state } = JSON.parse(new TextDecoder().decode(data)) as UserState & {
    outbox?: unknown;
  };
  return state;
}

/** True while some connection is held by the grace period. */
export function graceDue(state: UserState): number | undefined {
  let due: number | undefined;
  for (const c of Object.values(state.connections)) {
    if (c.graceUntil !== undefined && (due === undefined || c.graceUntil < due)) due = c.graceUntil;
  }
  return due;
}

/** The gateway's view of a user. */
export function toUserPresence(state: UserState): UserPresence {
  return UserPresence.fromPartial({
    appId: state.appId,
    userId: state.userId,
    status: state.status === "online" ? UserStatus.USER_STATUS_ONLINE : UserStatus.USER_STATUS_OFFLINE,
    seq: state.seq,
    since: new Date(state.since),
    connections: Object.entries(state.connections)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([connId, c]) => ({
        connId,
        platformId: c.platformId,
        platform: c.platform,
        isAppBackground: c.isAppBackground,
        nodeId: c.nodeId,
        since: new Date(c.since),
      })),
  });
}

/** Why a node's connections were last reset: the chat core said so, or its lease ran out. */
export type NodeResetReason = "reported" | "lease_expired";

/**
 * One chat-core node of an app, stored as JSON under n.<partition>.<app>.<node> in the node's
 * partition: its last heartbeat and lease, and its last reset. Times are stored times (the stream's
 * clock, not a replica's), milliseconds since the epoch.
 */
export interface NodeState {
  kind: "node";
  appId: string;
  nodeId: string;
  /** The last heartbeat since the last reset (0: none, so the node is not leased). */
  heartbeatAt: number;
  /** Its stream sequence: names the lease, so the reset of one lease is stored once. */
  heartbeatSeq: number;
  /** The lease that heartbeat gave (0: none). */
  leaseMs: number;
  /** The app's lease margin when the lease was last looked at. */
  marginMs: number;
  /** Lease checks asked for this lease, so each has an id of its own. */
  checks: number;
  /** The last of them folded: while it is behind `checks`, one is on its way and no other is asked. */
  answered: number;
  /**
   * When (the clock of the replica that folded the last answer) to ask again: a lease found alive is
   * asked about again when its rest has passed on that clock. Pacing only; the stream's clock decides.
   */
  nextAskAt?: number;
  /** The last reset of the node's connections, and why. */
  resetAt?: number;
  resetReason?: NodeResetReason;
}

/** A state of the PRESENCE projection: a user's, or a node's (keys n.*). */
export type PresenceState = UserState | NodeState;

export function isNodeState(state: PresenceState): state is NodeState {
  return (state as NodeState).kind === "node";
}

export function emptyNodeState(appId: string, nodeId: string): NodeState {
  return {
    kind: "node",
    appId,
    nodeId,
    heartbeatAt: 0,
    heartbeatSeq: 0,
    leaseMs: 0,
    marginMs: 0,
    checks: 0,
    answered: 0,
  };
}

/** When a node's lease runs out (stored time), or undefined when it holds none. */
export function leaseExpiry(node: NodeState): number | undefined {
  return node.heartbeatAt > 0 && node.leaseMs > 0
    ? node.heartbeatAt + node.leaseMs + node.marginMs
    : undefined;
}

export function encodePresenceState(state: PresenceState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

export function decodeNodeState(data: Uint8Array): NodeState {
  return JSON.parse(new TextDecoder().decode(data)) as NodeState;
}

/** A state read back: a node's under n.* keys, a user's otherwise. */
export function decodePresenceState(key: string, data: Uint8Array): PresenceState {
  return presenceKeys.isNode(key) ? decodeNodeState(data) : decodeUserState(data);
}
