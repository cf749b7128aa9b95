import { DERIVED_PAYLOAD_CASES, Event } from "@herald/proto";
import type { Bus } from "@herald/bus";
import { Kvm } from "@nats-io/kv";
import { DeliverPolicy } from "@nats-io/jetstream";
import { chatroomSubjects } from "./engine.js";
import { foldRoom, roomChange } from "./fold.js";
import { roomKeys } from "./keys.js";
import { encodeRoomMeta } from "./state.js";
import type { RoomMeta } from "./state.js";
import { inBatches } from "./store.js";

export interface ChatroomRebuildOptions {
  /** The bucket to fill (default ROOMS); created when missing; it should be empty. */
  bucket?: string;
}

export interface ChatroomRebuildReport {
  events: number;
  rooms: number;
  memberships: number;
  /** The last EVENTS sequence replayed. */
  lastSeq: number;
}

interface RebuiltRoom {
  meta: RoomMeta;
  /** user id -> joinedAt (ms). */
  members: Map<string, number>;
}

/**
 * Replays the room events of EVENTS from the start and writes the rooms and memberships the live
 * fold would have produced (automatic changes are events too, so they replay). Records are not
 * published and no timer is started.
 */
export async function rebuildChatroom(
  bus: Bus,
  opts: ChatroomRebuildOptions = {},
): Promise<ChatroomRebuildReport> {
  const jsm = await bus.jsm();
  const stream = bus.names.streams.events;
  const lastSeq = (await jsm.streams.info(stream)).state.last_seq;
  const rooms = new Map<string, RebuiltRoom>();
  let events = 0;

  if (lastSeq > 0) {
    const consumer = await bus.js.consumers.get(stream, {
      filter_subjects: chatroomSubjects(bus.names).rooms,
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const event = Event.decode(m.data);
      const p = event.payload;
      const change = roomChange(event);
      if (
        p !== undefined &&
        !DERIVED_PAYLOAD_CASES.has(p.$case) &&
        change !== undefined &&
        change.roomId !== ""
      ) {
        events++;
        const key = roomKeys.room(event.appId, change.roomId);
        const room = rooms.get(key);
        const members = room?.members ?? new Map<string, number>();
        const at = event.occurredAt?.getTime() ?? 0;
        const fold = foldRoom(room?.meta, new Set(members.keys()), event, m.seq, at);
        if (fold.outcome === "applied") {
          const { outbox } = fold.meta;
          if (outbox.destroyed) members.clear();
          for (const u of outbox.joined) members.set(u, outbox.at);
          for (const u of outbox.left) members.delete(u);
          rooms.set(key, { meta: fold.meta, members });
        }
      }
      if (m.seq >= lastSeq || m.info.pending === 0) break;
    }
    await messages.close();
  }

  const kv = await new Kvm(bus.js).create(opts.bucket ?? bus.names.buckets.rooms, { history: 1 });
  let memberships = 0;
  for (const { meta, members } of rooms.values()) {
    // The outbox is done here; nothing for a live writer to redo or publish again.
    const done: RoomMeta = {
      ...meta,
      outbox: { ...meta.outbox, joined: [], left: [], destroyed: false, events: [] },
    };
    await kv.put(roomKeys.room(meta.appId, meta.roomId), encodeRoomMeta(done));
    memberships += members.size;
    await inBatches([...members], async ([userId, joinedAt]) => {
      await kv.put(roomKeys.member(meta.appId, meta.roomId, userId), String(joinedAt));
      await kv.put(roomKeys.userRoom(meta.appId, userId, meta.roomId), "");
    });
  }
  return { events, rooms: rooms.size, memberships, lastSeq };
}
