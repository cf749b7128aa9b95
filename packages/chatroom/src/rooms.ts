import { decodeKeyToken } from "@herald/bus";
import type { Event } from "@herald/proto";
import type { PartitionContext, ProjectionDefinition } from "@herald/projection";
import { foldRoom, membershipChange, roomChange } from "./fold.js";
import type { MembershipChange, RoomRejectReason } from "./fold.js";
import { roomKeys } from "./keys.js";
import { decodeRoomMeta, encodeRoomMeta } from "./state.js";
import type { RoomState } from "./state.js";
import { idleDestroyEvent } from "./timers.js";
import type { ChatroomTimersOf } from "./timers.js";

/** Counters the service keeps; every hook is optional. */
export interface ChatroomHooks {
  folded?(type: string): void;
  rejected?(reason: RoomRejectReason): void;
  /** An automatic change that no longer applied (the user had left, the room was no longer empty). */
  staleAutomatic?(): void;
  derived?(type: string): void;
  automatic?(kind: "kick" | "idle_destroy"): void;
}

export interface RoomsProjectionOptions {
  /** The ROOMS bucket's name (bus.names.buckets.rooms). */
  bucket: string;
  /** The timers of each app (its idleDestroyMs: an empty room is destroyed with status 3 after it, 0 never). */
  timers: ChatroomTimersOf;
  hooks?: ChatroomHooks;
}

/** The projection kit's name for rooms: lease.rooms.<p>, ckpt.rooms.<p>. */
export const ROOMS_PROJECTION = "rooms";

/**
 * Rooms as a projection: the room lane folded per room, in the partition of the room. The meta is
 * the state (compare-and-set); memberships and the user->room index are side keys, written after
 * the states, and the members are kept in memory (loaded from the m. keys). An idle destroy is a
 * timer of the room's key; its room.destroyed comes back through the lane like any event.
 */
export function roomsProjection(opts: RoomsProjectionOptions): ProjectionDefinition<RoomState> {
  const hooks = opts.hooks ?? {};

  /** Writes what a change did to the memberships, in memory and as side keys. */
  function applyMemberships(ctx: PartitionContext<RoomState>, room: RoomState, change: MembershipChange) {
    const { appId, roomId } = room.meta;
    const remove = (userId: string) => {
      room.members.delete(userId);
      ctx.side(roomKeys.member(ctx.partition, appId, roomId, userId), undefined);
      ctx.side(roomKeys.userRoom(appId, userId, roomId), undefined);
    };
    for (const userId of change.joined) {
      room.members.add(userId);
      ctx.side(roomKeys.member(ctx.partition, appId, roomId, userId), String(change.at));
      // Not empty: readCurrent (the queries' and kicks' reader) takes an empty value for a deletion.
      ctx.side(roomKeys.userRoom(appId, userId, roomId), String(change.at));
    }
    for (const userId of change.left) remove(userId);
    if (change.destroyed) for (const userId of [...room.members]) remove(userId);
  }

  function setIdleTimer(ctx: PartitionContext<RoomState>, key: string, room: RoomState): void {
    const { meta } = room;
    const idleMs = opts.timers(meta.appId).idleDestroyMs;
    const idle = idleMs > 0 && meta.exists && meta.memberCount === 0;
    ctx.setTimer(key, idle ? meta.changedAt + idleMs : undefined);
  }

  function publish(ctx: PartitionContext<RoomState>, event: Event): void {
    ctx.publish(event);
    hooks.derived?.(event.type);
  }

  return {
    name: ROOMS_PROJECTION,
    lane: "room",
    bucket: opts.bucket,
    stateFilter: roomKeys.rooms,
    sideFilter: roomKeys.partitionMembers,
    encode: (room) => encodeRoomMeta(room.meta),
    decode: (_key, data) => ({ meta: decodeRoomMeta(data), members: new Set() }),

    apply(ctx, event, stored) {
      const change = roomChange(event);
      if (change === undefined) return; // the room lane holds room changes only
      hooks.folded?.(event.type);
      // No room id: rejected, and no key to name.
      const key = change.roomId === "" ? "" : roomKeys.room(ctx.partition, event.appId, change.roomId);
      const room = key === "" ? undefined : ctx.get(key);
      const fold = foldRoom(room?.meta, room?.members ?? new Set(), event, stored.seq, ctx.now());
      switch (fold.outcome) {
        case "duplicate":
          // Applied in a batch whose memberships a crashed owner may not have written: redo them.
          if (room !== undefined && room.meta.batch.includes(stored.seq)) {
            applyMemberships(ctx, room, membershipChange(event, ctx.now()));
          }
          return;
        case "stale_auto":
          hooks.staleAutomatic?.();
          return;
        case "rejected":
          hooks.rejected?.(fold.reason);
          publish(ctx, fold.derived);
          return;
        case "applied": {
          // Changes of batches already cut have their side keys (or are redone from the checkpoint).
          const batch = fold.meta.batch.filter((seq) => seq > ctx.cutThrough());
          const next: RoomState = {
            meta: { ...fold.meta, batch: [...batch, stored.seq] },
            members: room?.members ?? new Set(),
          };
          publish(ctx, fold.derived);
          ctx.set(key, next);
          applyMemberships(ctx, next, fold.change);
          setIdleTimer(ctx, key, next);
        }
      }
    },

    fire(ctx, key) {
      const room = ctx.get(key);
      // Any change since the timer was set has set it again or cancelled it.
      if (room === undefined || !room.meta.exists || room.meta.memberCount > 0) return;
      const { appId, roomId, lastSeq, changedAt } = room.meta;
      // The app's setting now: turned off since, nothing; lengthened, the timer waits again.
      const idleMs = opts.timers(appId).idleDestroyMs;
      if (idleMs <= 0) return;
      if (changedAt + idleMs > ctx.now()) {
        ctx.setTimer(key, changedAt + idleMs);
        return;
      }
      publish(ctx, idleDestroyEvent(appId, roomId, lastSeq, changedAt + idleMs));
      hooks.automatic?.("idle_destroy");
    },

    retime(ctx, appId) {
      const rooms = [...ctx.entries()].filter(([, room]) => room.meta.appId === appId);
      for (const [key, room] of rooms) setIdleTimer(ctx, key, room);
    },

    loaded(ctx, _through, side) {
      for (const key of side.keys()) {
        ctx.get(roomKeys.roomOfMember(key))?.members.add(decodeKeyToken(key.slice(key.lastIndexOf(".") + 1)));
      }
      for (const [key, room] of ctx.entries()) setIdleTimer(ctx, key, room);
    },
  };
}
