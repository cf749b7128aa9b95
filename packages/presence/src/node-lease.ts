import { Event, NodeResetReason } from "@herald/proto";
import type { Duration, NodeReset } from "@herald/proto";
import { emptyNodeState, leaseExpiry } from "./state.js";
import type { NodeState } from "./state.js";

/**
 * Checks of one lease are asked for at most this often by one replica: a replica whose clock runs
 * ahead of the stream's asks early, finds the lease alive, and must not ask again at once.
 */
export const LEASE_CHECK_SPACING_MS = 1_000;

export interface NodeFoldResult {
  state: NodeState;
  /** False when nothing is to be written. */
  changed: boolean;
  /** Events to store: a lease check, or the node.reset of an expired lease. */
  derived: Event[];
}

/** The id of the node.reset derived when the lease of the heartbeat at `heartbeatSeq` ran out. */
export function leaseResetEventId(heartbeatSeq: number): string {
  return `node-lease:${heartbeatSeq}:reset`;
}

/** The id of the `check`-th check of the lease of the heartbeat at `heartbeatSeq`. */
export function leaseCheckEventId(heartbeatSeq: number, check: number): string {
  return `node-lease:${heartbeatSeq}:check:${check}`;
}

/** When the node's timer should fire (a replica's clock), or undefined while it holds no lease. */
export function nodeTimerDue(node: NodeState): number | undefined {
  const expiry = leaseExpiry(node);
  if (expiry === undefined) return undefined;
  return node.checkAskedAt === undefined
    ? expiry
    : Math.max(expiry, node.checkAskedAt + LEASE_CHECK_SPACING_MS);
}

function durationMs(d: Duration | undefined): number {
  return d === undefined ? 0 : d.seconds * 1000 + Math.floor(d.nanos / 1_000_000);
}

/**
 * Folds one node event, in the node's partition, at its stored sequence and time (the stream's
 * clock): a heartbeat renews the lease, a reported reset ends it, and a lease check whose stored
 * time is past the lease resets the node: it derives a node.reset with reason LEASE_EXPIRED, once per
 * lease (the id names the lease), which reaches every partition as a reported one does.
 */
export function foldNodeEvent(
  state: NodeState | undefined,
  event: Event,
  stored: { seq: number; time: number },
  marginMs: number,
): NodeFoldResult {
  const p = event.payload;
  switch (p?.$case) {
    case "nodeHeartbeat": {
      const current = state ?? emptyNodeState(event.appId, p.value.nodeId);
      if (stored.seq <= current.heartbeatSeq) return { state: current, changed: false, derived: [] };
      const { checkAskedAt: _asked, ...rest } = current;
      return {
        state: {
          ...rest,
          heartbeatAt: stored.time,
          heartbeatSeq: stored.seq,
          leaseMs: durationMs(p.value.lease),
          marginMs,
          checks: 0,
        },
        changed: true,
        derived: [],
      };
    }
    case "nodeReset": {
      if (p.value.reason === NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED) {
        // Derived here, at the check that found the lease expired: the state already says so.
        return { state: state ?? emptyNodeState(event.appId, p.value.nodeId), changed: false, derived: [] };
      }
      const current = state ?? emptyNodeState(event.appId, p.value.nodeId);
      const { checkAskedAt: _asked, ...rest } = current;
      // The chat core said the node is gone: its lease ends with it, until its next heartbeat.
      return {
        state: {
          ...rest,
          heartbeatAt: 0,
          leaseMs: 0,
          checks: 0,
          resetAt: stored.time,
          resetReason: "reported",
        },
        changed: true,
        derived: [],
      };
    }
    case "nodeLeaseCheck": {
      if (state === undefined || p.value.heartbeatSeq !== state.heartbeatSeq) {
        // A check of a lease renewed or ended since: nothing to decide.
        return { state: state ?? emptyNodeState(event.appId, p.value.nodeId), changed: false, derived: [] };
      }
      const looked = { ...state, marginMs };
      const expiry = leaseExpiry(looked);
      if (expiry === undefined) return { state, changed: false, derived: [] };
      if (stored.time < expiry)
        return { state: looked, changed: looked.marginMs !== state.marginMs, derived: [] };
      const { checkAskedAt: _asked, ...rest } = looked;
      const reset: NodeReset = {
        nodeId: state.nodeId,
        reason: NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED,
        beforeSeq: stored.seq,
        lastHeartbeat: new Date(state.heartbeatAt),
        lease: { seconds: Math.floor(state.leaseMs / 1000), nanos: (state.leaseMs % 1000) * 1_000_000 },
      };
      return {
        state: {
          ...rest,
          heartbeatAt: 0,
          leaseMs: 0,
          checks: 0,
          resetAt: stored.time,
          resetReason: "lease_expired",
        },
        changed: true,
        derived: [
          Event.fromPartial({
            id: leaseResetEventId(state.heartbeatSeq),
            appId: state.appId,
            occurredAt: new Date(stored.time),
            operationId: event.operationId,
            type: "node.reset",
            payload: { $case: "nodeReset", value: reset },
          }),
        ],
      };
    }
    default:
      return { state: state ?? emptyNodeState(event.appId, ""), changed: false, derived: [] };
  }
}

/**
 * A node's timer fired at `now` (this replica's clock): when its lease looks run out, asks the
 * stream's clock by storing a lease check; the check's fold decides. Checks are spaced, so a replica
 * whose clock jumped ahead asks once a second at most and resets nothing.
 */
export function askLeaseCheck(state: NodeState, now: number): NodeFoldResult {
  const due = nodeTimerDue(state);
  if (due === undefined || now < due) return { state, changed: false, derived: [] };
  const check = state.checks + 1;
  return {
    state: { ...state, checks: check, checkAskedAt: now },
    changed: true,
    derived: [
      Event.fromPartial({
        id: leaseCheckEventId(state.heartbeatSeq, check),
        appId: state.appId,
        occurredAt: new Date(now),
        type: "node.lease_check",
        payload: {
          $case: "nodeLeaseCheck",
          value: { nodeId: state.nodeId, heartbeatSeq: state.heartbeatSeq, check },
        },
      }),
    ],
  };
}
