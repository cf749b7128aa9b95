import { Event, NodeResetReason, durationFromMs, durationToMs } from "@herald/proto";
import type { NodeReset } from "@herald/proto";
import { emptyNodeState, leaseExpiry } from "./state.js";
import type { NodeState } from "./state.js";

/**
 * A lease found alive is asked about again after its rest, but never sooner than this: so a lease
 * found alive by a hair is not asked about in a tight loop.
 */
export const LEASE_RECHECK_MIN_MS = 100;

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

/**
 * When the node's timer should fire, or undefined while it holds no lease or a check is on its way
 * (its answer sets the next). The lease's end is a stored time; a re-ask is on a replica's clock.
 */
export function nodeTimerDue(node: NodeState): number | undefined {
  const expiry = leaseExpiry(node);
  if (expiry === undefined || node.checks > node.answered) return undefined;
  return node.nextAskAt ?? expiry;
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
  wallClock: number,
): NodeFoldResult {
  const p = event.payload;
  switch (p?.$case) {
    case "nodeHeartbeat": {
      const current = state ?? emptyNodeState(event.appId, p.value.nodeId);
      if (stored.seq <= current.heartbeatSeq) return { state: current, changed: false, derived: [] };
      const { nextAskAt: _next, ...rest } = current;
      return {
        state: {
          ...rest,
          heartbeatAt: stored.time,
          heartbeatSeq: stored.seq,
          leaseMs: durationToMs(p.value.lease),
          marginMs,
          checks: 0,
          answered: 0,
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
      const { nextAskAt: _next, ...rest } = current;
      // The chat core said the node is gone: its lease ends with it, until its next heartbeat.
      return {
        state: {
          ...rest,
          heartbeatAt: 0,
          leaseMs: 0,
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
      const looked = { ...state, marginMs, answered: Math.max(state.answered, p.value.check) };
      const expiry = leaseExpiry(looked);
      if (expiry === undefined) return { state, changed: false, derived: [] };
      if (stored.time < expiry) {
        // Alive by the stream's clock (this replica's ran ahead, or the margin grew): ask again
        // once the rest has passed here.
        const rest = Math.max(LEASE_RECHECK_MIN_MS, expiry - stored.time);
        return { state: { ...looked, nextAskAt: wallClock + rest }, changed: true, derived: [] };
      }
      const { nextAskAt: _next, ...rest } = looked;
      const reset: NodeReset = {
        nodeId: state.nodeId,
        reason: NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED,
        beforeSeq: stored.seq,
        lastHeartbeat: new Date(state.heartbeatAt),
        lease: durationFromMs(state.leaseMs),
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
 * A node's timer fired (by this replica's clock, or by a later stored event): when its lease may have
 * run out, asks the stream's clock by storing a lease check, whose fold decides. One check is on its
 * way at a time, and a lease found alive is asked about again only after its rest on this replica's
 * clock: so a replica whose clock jumped ahead asks once per heartbeat at most and resets nothing.
 */
export function askLeaseCheck(state: NodeState, wallClock: number): NodeFoldResult {
  if (nodeTimerDue(state) === undefined) return { state, changed: false, derived: [] };
  if (state.nextAskAt !== undefined && wallClock < state.nextAskAt)
    return { state, changed: false, derived: [] };
  const check = state.checks + 1;
  const { nextAskAt: _next, ...rest } = state;
  return {
    state: { ...rest, checks: check },
    changed: true,
    derived: [
      Event.fromPartial({
        id: leaseCheckEventId(state.heartbeatSeq, check),
        appId: state.appId,
        occurredAt: new Date(wallClock),
        type: "node.lease_check",
        payload: {
          $case: "nodeLeaseCheck",
          value: { nodeId: state.nodeId, heartbeatSeq: state.heartbeatSeq, check },
        },
      }),
    ],
  };
}

/**
 * The app's lease margin changed to `marginMs`: a leased node's lease now ends at its last heartbeat
 * plus lease plus the new margin. Undefined when nothing moves (or a check is on its way: its answer
 * reads the new margin).
 */
export function remargin(state: NodeState, marginMs: number): NodeState | undefined {
  if (leaseExpiry(state) === undefined || state.marginMs === marginMs || state.checks > state.answered) {
    return undefined;
  }
  const { nextAskAt: _next, ...rest } = state;
  return { ...rest, marginMs };
}
