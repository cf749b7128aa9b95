import { UserPresence, UserStatus } from "@herald/proto";
import type { OfflineReason } from "@herald/proto";

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

export function encodeUserState(state: UserState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
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
