import { partitionOf } from "@herald/bus";
import type { Event } from "@herald/proto";
import type { PartitionContext, ProjectionDefinition } from "@herald/projection";
import { expireGrace, foldPresence, presenceUserId, regrace } from "./fold.js";
import type { FoldResult, PresenceAnomaly } from "./fold.js";
import { presenceKeys } from "./keys.js";
import { askLeaseCheck, foldNodeEvent, nodeTimerDue, remargin } from "./node-lease.js";
import type { NodeFoldResult } from "./node-lease.js";
import { decodePresenceState, encodePresenceState, graceDue, isNodeState } from "./state.js";
import type { NodeState, PresenceState, UserState } from "./state.js";
import type { PresenceSettingsOf } from "./settings.js";

/** Counters the service keeps; every hook is optional. */
export interface PresenceHooks {
  folded?(type: string): void;
  derived?(type: string): void;
  anomaly?(kind: PresenceAnomaly): void;
}

export interface PresenceProjectionOptions {
  /** The PRESENCE bucket's name (bus.names.buckets.presence). */
  bucket: string;
  /** The settings of each app (grace period, node lease margin), read at each fold. */
  settings: PresenceSettingsOf;
  hooks?: PresenceHooks;
}

/** The projection kit's name for presence: lease.presence.<p>, ckpt.presence.<p>. */
export const PRESENCE_PROJECTION = "presence";

type Ctx = PartitionContext<PresenceState>;

/**
 * Presence as a projection: the connection lane folded per user, in the partition of the user, and
 * per chat-core node, in the partition of the node. A grace period is a timer of the user's key; a
 * node.reset (each partition has its copy) ends the node's connections of the partition's users; a
 * node's lease is a timer of the node's key (see node-lease.ts). Each partition also keeps how many
 * connections its users hold on each node (side keys nc.*, for queries).
 */
export function presenceProjection(opts: PresenceProjectionOptions): ProjectionDefinition<PresenceState> {
  const hooks = opts.hooks ?? {};
  // Per partition: connections held on each node, by `${app}\0${node}`; rebuilt at each load.
  const nodeCounts = new Map<number, Map<string, number>>();
  // Per partition: the counts changed since they were last written (at most every COUNTS_EVERY_MS).
  const dirtyCounts = new Map<number, Set<string>>();

  function countsOf(ctx: Ctx): Map<string, number> {
    let counts = nodeCounts.get(ctx.partition);
    if (counts === undefined) nodeCounts.set(ctx.partition, (counts = new Map<string, number>()));
    return counts;
  }

  /** Writes a changed state with its derived events, and sets its key's timer. */
  function commit(
    ctx: Ctx,
    key: string,
    state: PresenceState,
    derived: readonly Event[],
    due: number | undefined,
  ) {
    ctx.set(key, state);
    for (const e of derived) {
      ctx.publish(e);
      hooks.derived?.(e.type);
    }
    ctx.setTimer(key, due);
  }

  function commitUser(ctx: Ctx, key: string, before: UserState | undefined, result: FoldResult): void {
    if (result.anomaly !== undefined) hooks.anomaly?.(result.anomaly);
    if (!result.changed) return;
    commit(ctx, key, result.state, result.derived, graceDue(result.state));
    recount(ctx, before, result.state);
  }

  function commitNode(ctx: Ctx, key: string, result: NodeFoldResult): void {
    if (result.changed) commit(ctx, key, result.state, result.derived, nodeTimerDue(result.state));
  }

  // Moves a user's connections in the node counts from `before` to `after`, marking the counts changed.
  function recount(ctx: Ctx, before: UserState | undefined, after: UserState): void {
    const delta = new Map<string, number>();
    if (before !== undefined) tally(delta, before, -1);
    tally(delta, after, +1);
    const counts = countsOf(ctx);
    let dirty = dirtyCounts.get(ctx.partition);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const n = Math.max(0, (counts.get(k) ?? 0) + d);
      if (n === 0) counts.delete(k);
      else counts.set(k, n);
      if (dirty === undefined) {
        // The first change since the last write: written together when the timer fires, so a
        // batch pays no extra write round for them (queries see counts up to that much late).
        dirtyCounts.set(ctx.partition, (dirty = new Set()));
        ctx.setTimer(COUNTS_TIMER, ctx.wallClock() + COUNTS_EVERY_MS);
      }
      dirty.add(k);
    }
  }

  function writeDirtyCounts(ctx: Ctx): void {
    const counts = countsOf(ctx);
    for (const k of dirtyCounts.get(ctx.partition) ?? []) writeCount(ctx, k, counts.get(k) ?? 0);
    dirtyCounts.delete(ctx.partition);
  }

  function writeCount(ctx: Ctx, k: string, n: number): void {
    const [appId, nodeId] = k.split("\u0000") as [string, string];
    ctx.side(presenceKeys.nodeCount(ctx.partition, appId, nodeId), n === 0 ? undefined : String(n));
  }

  function applyToNode(ctx: Ctx, event: Event, nodeId: string, stored: { seq: number; time: number }): void {
    // Only the node's own partition keeps its state; a node.reset's copies elsewhere reset users only.
    if (partitionOf(event.appId, nodeId, ctx.partitions) !== ctx.partition) return;
    const key = presenceKeys.node(ctx.partition, event.appId, nodeId);
    const node = nodeState(ctx.get(key));
    const marginMs = opts.settings(event.appId).nodeLeaseMarginMs;
    commitNode(ctx, key, foldNodeEvent(node, event, stored, marginMs, ctx.wallClock()));
  }

  return {
    name: PRESENCE_PROJECTION,
    lane: "conn",
    bucket: opts.bucket,
    stateFilter: (p) => [presenceKeys.partition(p), presenceKeys.nodePartition(p)],
    sideFilter: presenceKeys.nodeCountPartition,
    encode: encodePresenceState,
    decode: decodePresenceState,

    apply(ctx, event: Event, stored) {
      const p = event.payload;
      hooks.folded?.(event.type || (p?.$case ?? "none"));
      const userId = presenceUserId(event);
      if (userId !== undefined) {
        if (userId === "") {
          hooks.anomaly?.("missing_user_id");
          return;
        }
        const key = presenceKeys.user(ctx.partition, event.appId, userId);
        const before = userState(ctx.get(key));
        const { graceMs } = opts.settings(event.appId);
        commitUser(ctx, key, before, foldPresence(before, event, stored.seq, ctx.now(), { graceMs }));
        return;
      }
      switch (p?.$case) {
        case "nodeReset": {
          // Resets are rare and a partition's users are in memory: a scan needs no index to keep.
          const nodeId = p.value.nodeId;
          const held: [string, UserState][] = [];
          for (const [key, state] of ctx.entries()) {
            if (isNodeState(state) || state.appId !== event.appId) continue;
            if (Object.values(state.connections).some((c) => c.nodeId === nodeId)) held.push([key, state]);
          }
          for (const [key, state] of held) {
            commitUser(ctx, key, state, foldPresence(state, event, stored.seq, ctx.now()));
          }
          applyToNode(ctx, event, nodeId, stored);
          return;
        }
        case "nodeHeartbeat":
        case "nodeLeaseCheck":
          applyToNode(ctx, event, p.value.nodeId, stored);
          return;
        default:
          hooks.anomaly?.("not_a_presence_event");
      }
    },

    fire(ctx, key) {
      if (key === COUNTS_TIMER) {
        writeDirtyCounts(ctx);
        return;
      }
      const state = ctx.get(key);
      if (state === undefined) return;
      if (isNodeState(state)) {
        const asked = askLeaseCheck(state, ctx.wallClock());
        if (asked.changed) commitNode(ctx, key, asked);
        else ctx.setTimer(key, nodeTimerDue(state));
        return;
      }
      commitUser(ctx, key, state, expireGrace(state, ctx.now()));
    },

    retime(ctx, appId) {
      const { graceMs, nodeLeaseMarginMs } = opts.settings(appId);
      const moved: [string, PresenceState][] = [];
      for (const [key, state] of ctx.entries()) {
        if (state.appId !== appId) continue;
        const next = isNodeState(state) ? remargin(state, nodeLeaseMarginMs) : regrace(state, graceMs);
        if (next !== undefined) moved.push([key, next]);
      }
      for (const [key, state] of moved) {
        ctx.set(key, state);
        ctx.setTimer(key, isNodeState(state) ? nodeTimerDue(state) : graceDue(state));
      }
    },

    loaded(ctx, _through, side) {
      const counts = new Map<string, number>();
      for (const [key, state] of ctx.entries()) {
        if (isNodeState(state)) {
          // A re-ask time is the last owner's clock: this replica asks the stream once instead.
          const due = nodeTimerDue(state);
          ctx.setTimer(key, due === undefined || state.nextAskAt === undefined ? due : ctx.wallClock());
          if (state.nextAskAt !== undefined) ctx.set(key, { ...state, nextAskAt: ctx.wallClock() });
          continue;
        }
        ctx.setTimer(key, graceDue(state));
        tally(counts, state, +1);
      }
      nodeCounts.set(ctx.partition, counts);
      dirtyCounts.delete(ctx.partition);
      // The counts a crashed owner may not have finished writing: made right from the states.
      const decoder = new TextDecoder();
      const stored = new Map<string, string>();
      for (const [key, value] of side) stored.set(key, decoder.decode(value));
      for (const [k, n] of counts) {
        const [appId, nodeId] = k.split("\u0000") as [string, string];
        const key = presenceKeys.nodeCount(ctx.partition, appId, nodeId);
        if (stored.get(key) !== String(n)) writeCount(ctx, k, n);
        stored.delete(key);
      }
      for (const key of stored.keys()) ctx.side(key, undefined);
    },
  };
}

/** How often a partition writes the node connection counts that changed. */
export const COUNTS_EVERY_MS = 1_000;
// The timer key of that write: not a state key (those have a partition after their prefix).
const COUNTS_TIMER = "nc";

function userState(state: PresenceState | undefined): UserState | undefined {
  return state === undefined || isNodeState(state) ? undefined : state;
}

function nodeState(state: PresenceState | undefined): NodeState | undefined {
  return state !== undefined && isNodeState(state) ? state : undefined;
}

/** Adds `by` to the count of each node a user's connection is on, by `${app}\0${node}`. */
function tally(counts: Map<string, number>, state: UserState, by: number): void {
  for (const c of Object.values(state.connections)) {
    const k = `${state.appId}\u0000${c.nodeId}`;
    counts.set(k, (counts.get(k) ?? 0) + by);
  }
}
