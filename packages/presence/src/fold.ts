import { Event, NodeResetReason, OfflineReason } from "@herald/proto";
import type { UserBackground, UserOffline, UserOnline } from "@herald/proto";
import { emptyUserState } from "./state.js";
import type { CauseRef, ConnectionState, UserState } from "./state.js";

export interface FoldOptions {
  /** Hold abnormal disconnects (DISCONNECT, TIMEOUT) of a user's last connection this long (0: off). */
  graceMs?: number;
}

export interface FoldResult {
  state: UserState;
  /** False when the event was already applied, stale, or nonsense: nothing to write. */
  changed: boolean;
  derived: Event[];
  /** What was wrong with the event, as a metric label; set only when the event made no sense. */
  anomaly?: PresenceAnomaly;
}

export type PresenceAnomaly =
  "offline_unknown_connection" | "background_unknown_connection" | "missing_user_id" | "not_a_presence_event";

/** How long a removed connection is remembered against late, older events. */
export const TOMBSTONE_TTL_MS = 10 * 60_000;

const ABNORMAL = new Set([OfflineReason.OFFLINE_REASON_DISCONNECT, OfflineReason.OFFLINE_REASON_TIMEOUT]);

/** The user an event is about, or undefined for node events. */
export function presenceUserId(event: Event): string | undefined {
  const p = event.payload;
  switch (p?.$case) {
    case "connectionOnline":
    case "connectionOffline":
    case "connectionBackground":
      return p.value.userId;
    default:
      return undefined;
  }
}

/** The id of the derived event for a user's seq: the Nats-Msg-Id, so it is stored once. */
export function derivedEventId(appId: string, userId: string, seq: number): string {
  return `${appId}:${userId}:presence:${seq}`;
}

// derivedEventId's shape: an app id, a user id (any text but control characters, 1-256 code points).
const DERIVED_EVENT_ID = /^[A-Za-z0-9_-]{1,64}:[^\p{Cc}]{1,256}:presence:\d{1,16}$/u;

/** Whether `id` is one derivedEventId makes: such ids hold the user's id, so they may be any script. */
export function isDerivedEventId(id: string): boolean {
  return DERIVED_EVENT_ID.test(id);
}

/**
 * Applies one event (stored at `streamSeq`) to one user's state. Pure and deterministic: the same
 * state, event, sequence and time give the same result; applying an event twice changes nothing.
 * A node.reset is folded once per user that held a connection on the node.
 */
export function foldPresence(
  state: UserState | undefined,
  event: Event,
  streamSeq: number,
  now: number,
  opts: FoldOptions = {},
): FoldResult {
  const p = event.payload;
  const userId = presenceUserId(event) ?? state?.userId;
  if (userId === undefined || p === undefined) return unchanged(state, event, "", "not_a_presence_event");
  if (userId === "") return unchanged(state, event, userId, "missing_user_id");
  const current = state ?? emptyUserState(event.appId, userId);
  const cause: CauseRef = {
    eventId: event.id,
    operationId: event.operationId,
    occurredAt: event.occurredAt?.getTime() ?? now,
  };
  const change = new Change(current, cause, now);

  switch (p.$case) {
    case "connectionOnline": {
      const v = p.value;
      const tomb = current.tombstones[v.connId];
      if (tomb?.early !== undefined && current.connections[v.connId] === undefined && streamSeq < tomb.seq) {
        return lateOnline(change, event, v, tomb.early, streamSeq);
      }
      if (isStale(current, v.connId, streamSeq)) return unchanged(current, event, userId);
      const before = current.connections[v.connId];
      change.next.connections[v.connId] = {
        platformId: v.platformId,
        platform: v.platform,
        isAppBackground: v.isAppBackground,
        nodeId: v.nodeId,
        clientIp: v.clientIp,
        since: before?.since ?? cause.occurredAt,
        lastSeq: streamSeq,
      };
      delete change.next.tombstones[v.connId];
      if (current.status === "offline") {
        change.derive("online", (seq) => userOnline(userId, seq, v, cause.eventId));
      }
      return change.result();
    }
    case "connectionOffline": {
      const v = p.value;
      if (isStale(current, v.connId, streamSeq)) return unchanged(current, event, userId);
      const conn = current.connections[v.connId];
      if (conn === undefined) {
        // Its online may still be on its way from another replica: the tombstone keeps it out.
        change.next.tombstones[v.connId] = { seq: streamSeq, at: now, early: { ...cause, reason: v.reason } };
        return { ...change.result(), anomaly: "offline_unknown_connection" };
      }
      const othersOnline = Object.entries(current.connections).some(
        ([id, c]) => id !== v.connId && c.graceUntil === undefined,
      );
      const graceMs = opts.graceMs ?? 0;
      if (graceMs > 0 && ABNORMAL.has(v.reason) && !othersOnline) {
        change.next.connections[v.connId] = {
          ...conn,
          lastSeq: streamSeq,
          graceUntil: now + graceMs,
          graceFrom: now,
          graceCause: { ...cause, reason: v.reason },
        };
        return change.result();
      }
      change.remove(v.connId, streamSeq);
      change.offlineIfEmpty(v.connId, conn, v.reason, undefined, cause);
      return change.result();
    }
    case "connectionBackground": {
      const v = p.value;
      if (isStale(current, v.connId, streamSeq)) return unchanged(current, event, userId);
      const conn = current.connections[v.connId];
      if (conn === undefined) return unchanged(current, event, userId, "background_unknown_connection");
      change.next.connections[v.connId] = { ...conn, lastSeq: streamSeq, isAppBackground: v.isAppBackground };
      if (conn.isAppBackground !== v.isAppBackground) {
        change.derive("online", (seq) => ({
          $case: "userBackground",
          value: {
            userId,
            seq,
            connId: v.connId,
            platformId: conn.platformId,
            platform: conn.platform,
            isAppBackground: v.isAppBackground,
            causeEventId: cause.eventId,
          } satisfies UserBackground,
        }));
      }
      return change.result();
    }
    case "nodeReset": {
      const { nodeId, beforeSeq, reason } = p.value;
      // A lease expiry resets what the node held when the lease was found expired, not what it
      // reported after it came back.
      const cutoff = beforeSeq > 0 ? Math.min(beforeSeq, streamSeq) : streamSeq;
      const gone = Object.entries(current.connections).filter(
        ([, c]) => c.nodeId === nodeId && c.lastSeq < cutoff,
      );
      if (gone.length === 0) return unchanged(current, event, userId);
      for (const [connId] of gone) change.remove(connId, streamSeq);
      const [firstId, first] = gone[0] as [string, ConnectionState];
      const why =
        reason === NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED
          ? reason
          : NodeResetReason.NODE_RESET_REASON_REPORTED;
      change.offlineIfEmpty(firstId, first, OfflineReason.OFFLINE_REASON_UNSPECIFIED, why, cause);
      return change.result();
    }
    default:
      return unchanged(current, event, userId, "not_a_presence_event");
  }
}

/**
 * The app's grace period changed to `graceMs`: each held connection now ends at the start of its hold
 * plus the new period (at once if that is past). Undefined when nothing moves. Holds made before
 * graceFrom was kept keep their end.
 */
export function regrace(state: UserState, graceMs: number): UserState | undefined {
  let next: UserState | undefined;
  for (const [connId, c] of Object.entries(state.connections)) {
    if (c.graceUntil === undefined || c.graceFrom === undefined) continue;
    const until = c.graceFrom + graceMs;
    if (until === c.graceUntil) continue;
    next ??= { ...state, connections: { ...state.connections } };
    next.connections[connId] = { ...c, graceUntil: until };
  }
  return next;
}

/** Ends every grace period due by `now`: the held connections go, and the user goes offline if none is left. */
export function expireGrace(state: UserState, now: number): FoldResult {
  const due = Object.entries(state.connections).filter(
    ([, c]) => c.graceUntil !== undefined && c.graceUntil <= now,
  );
  if (due.length === 0) return { state, changed: false, derived: [] };
  const [firstId, first] = due[0] as [string, ConnectionState];
  const cause = first.graceCause ?? { eventId: "", operationId: "", occurredAt: now, reason: 0 };
  const change = new Change(state, cause, now);
  for (const [connId, c] of due) change.remove(connId, c.lastSeq);
  change.offlineIfEmpty(firstId, first, cause.reason, undefined, cause);
  return change.result();
}

/** The derived user.online payload for a connection that brought its user online. */
function userOnline(userId: string, seq: number, v: ConnectionOnlinePayload, causeEventId: string) {
  return {
    $case: "userOnline" as const,
    value: {
      userId,
      seq,
      connId: v.connId,
      platformId: v.platformId,
      platform: v.platform,
      isAppBackground: v.isAppBackground,
      nodeId: v.nodeId,
      clientIp: v.clientIp,
      causeEventId,
    } satisfies UserOnline,
  };
}

/**
 * The online of a connection whose offline was folded first (replicas or a redelivery reordered
 * them). A user who is offline now was online in between: both changes are derived, in order.
 */
function lateOnline(
  change: Change,
  event: Event,
  v: ConnectionOnlinePayload,
  offlineCause: CauseRef & { reason: OfflineReason },
  streamSeq: number,
): FoldResult {
  const next = change.next;
  const tomb = next.tombstones[v.connId];
  if (tomb !== undefined) next.tombstones[v.connId] = { seq: tomb.seq, at: tomb.at };
  if (next.status === "online") return change.result();
  change.derive("online", (seq) => userOnline(next.userId, seq, v, event.id));
  const conn: ConnectionState = { ...v, since: offlineCause.occurredAt, lastSeq: streamSeq };
  change.offlineIfEmpty(v.connId, conn, offlineCause.reason, undefined, offlineCause);
  return change.result();
}

/** An older event (by stream sequence) than the last one applied to, or removing, this connection. */
function isStale(state: UserState, connId: string, streamSeq: number): boolean {
  const conn = state.connections[connId];
  if (conn !== undefined) return streamSeq <= conn.lastSeq;
  const tomb = state.tombstones[connId];
  return tomb !== undefined && streamSeq <= tomb.seq;
}

function unchanged(
  state: UserState | undefined,
  event: Event,
  userId: string,
  anomaly?: PresenceAnomaly,
): FoldResult {
  return {
    state: state ?? emptyUserState(event.appId, userId),
    changed: false,
    derived: [],
    ...(anomaly === undefined ? {} : { anomaly }),
  };
}

type DerivedPayload = NonNullable<Event["payload"]>;
type ConnectionOnlinePayload = Extract<DerivedPayload, { $case: "connectionOnline" }>["value"];

/** A copy of the state being changed, with the derived events it produces. */
class Change {
  readonly next: UserState;
  private readonly derived: Event[] = [];

  constructor(
    current: UserState,
    private readonly cause: CauseRef,
    private readonly now: number,
  ) {
    this.next = {
      ...current,
      connections: { ...current.connections },
      tombstones: pruneTombstones(current.tombstones, now),
    };
  }

  remove(connId: string, seq: number): void {
    delete this.next.connections[connId];
    this.next.tombstones[connId] = { seq, at: this.now };
  }

  offlineIfEmpty(
    connId: string,
    conn: ConnectionState,
    reason: OfflineReason,
    /** Set when the node's reset took the connection: why the node was reset. */
    nodeReset: NodeResetReason | undefined,
    cause: CauseRef,
  ): void {
    if (Object.keys(this.next.connections).length > 0) return;
    this.derive(
      "offline",
      (seq) => ({
        $case: "userOffline",
        value: {
          userId: this.next.userId,
          seq,
          connId,
          platformId: conn.platformId,
          platform: conn.platform,
          reason,
          nodeId: conn.nodeId,
          nodeReset: nodeReset !== undefined,
          causeEventId: cause.eventId,
          nodeResetReason: nodeReset ?? NodeResetReason.NODE_RESET_REASON_UNSPECIFIED,
        } satisfies UserOffline,
      }),
      cause,
    );
  }

  derive(status: "online" | "offline", payload: (seq: number) => DerivedPayload, cause = this.cause): void {
    const n = this.next;
    n.seq += 1;
    if (n.status !== status) n.since = cause.occurredAt;
    n.status = status;
    const body = payload(n.seq);
    this.derived.push(
      Event.fromPartial({
        id: derivedEventId(n.appId, n.userId, n.seq),
        appId: n.appId,
        occurredAt: new Date(cause.occurredAt),
        operationId: cause.operationId,
        type: DERIVED_TYPE[body.$case as keyof typeof DERIVED_TYPE],
        payload: body,
      }),
    );
  }

  result(): FoldResult {
    return { state: this.next, changed: true, derived: this.derived };
  }
}

const DERIVED_TYPE = {
  userOnline: "user.online",
  userOffline: "user.offline",
  userBackground: "user.background",
} as const;

function pruneTombstones(tombstones: UserState["tombstones"], now: number): UserState["tombstones"] {
  const kept: UserState["tombstones"] = {};
  for (const [id, t] of Object.entries(tombstones)) if (t.at > now - TOMBSTONE_TTL_MS) kept[id] = t;
  return kept;
}
