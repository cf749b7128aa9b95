import type { Event } from "@herald/proto";
import type { PartitionContext, ProjectionDefinition } from "@herald/projection";
import { expireGrace, foldPresence, presenceUserId } from "./fold.js";
import type { FoldResult, PresenceAnomaly } from "./fold.js";
import { presenceKeys } from "./keys.js";
import { decodeUserState, encodeUserState, graceDue } from "./state.js";
import type { UserState } from "./state.js";
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

/**
 * Presence as a projection: the connection lane folded per user, in the partition of the user.
 * A grace period is a timer of the user's key; a node.reset (each partition has its copy) ends
 * the node's connections of the partition's users.
 */
export function presenceProjection(opts: PresenceProjectionOptions): ProjectionDefinition<UserState> {
  const hooks = opts.hooks ?? {};

  function commit(ctx: PartitionContext<UserState>, key: string, result: FoldResult): void {
    if (result.anomaly !== undefined) hooks.anomaly?.(result.anomaly);
    if (!result.changed) return;
    ctx.set(key, result.state);
    for (const e of result.derived) {
      ctx.publish(e);
      hooks.derived?.(e.type);
    }
    ctx.setTimer(key, graceDue(result.state));
  }

  return {
    name: PRESENCE_PROJECTION,
    lane: "conn",
    bucket: opts.bucket,
    stateFilter: presenceKeys.partition,
    encode: encodeUserState,
    decode: (_key, data) => decodeUserState(data),

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
        commit(
          ctx,
          key,
          foldPresence(ctx.get(key), event, stored.seq, ctx.now(), {
            graceMs: opts.settings(event.appId).graceMs,
          }),
        );
      } else if (p?.$case === "nodeReset") {
        // Resets are rare and a partition's users are in memory: a scan needs no index to keep.
        const nodeId = p.value.nodeId;
        const held: [string, UserState][] = [];
        for (const [key, state] of ctx.entries()) {
          if (state.appId !== event.appId) continue;
          if (Object.values(state.connections).some((c) => c.nodeId === nodeId)) held.push([key, state]);
        }
        for (const [key, state] of held) commit(ctx, key, foldPresence(state, event, stored.seq, ctx.now()));
      } else if (p?.$case !== "nodeHeartbeat") {
        hooks.anomaly?.("not_a_presence_event");
      }
    },

    fire(ctx, key) {
      const state = ctx.get(key);
      if (state !== undefined) commit(ctx, key, expireGrace(state, ctx.now()));
    },

    loaded(ctx) {
      for (const [key, state] of ctx.entries()) ctx.setTimer(key, graceDue(state));
    },
  };
}
